"""A throwaway CA (trustme) and a server certificate for given names, written as PEM files."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme

DEFAULT_NAMES = ("localhost", "127.0.0.1", "mx.harness.test", "sink.harness.test")


@dataclass(frozen=True)
class Certs:
    """PEM files: `ca_file` (the CA), `cert_file` (server leaf + chain), `key_file` (its key)."""

    directory: Path
    ca: trustme.CA
    names: tuple[str, ...]
    ca_file: Path
    cert_file: Path
    key_file: Path
    server: trustme.LeafCert

    def client_context(self, check_hostname: bool = True) -> ssl.SSLContext:
        """A client context that trusts only this CA."""
        ctx = ssl.create_default_context(cafile=str(self.ca_file))
        ctx.check_hostname = check_hostname
        return ctx

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(self.cert_file), str(self.key_file))
        return ctx


def make_certs(directory: Path | str, names: tuple[str, ...] | list[str] = DEFAULT_NAMES,
               organization: str = "privacy-milter tests") -> Certs:
    """Create `directory` (0755) with ca.pem, server.pem (leaf + chain) and server.key (0600).

    Files stay readable by root only where they must be: Postfix reads its key as root
    before dropping privileges, so 0600 is fine for the key.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    ca = trustme.CA(organization_name=organization)
    server = ca.issue_cert(*names)
    ca_file = directory / "ca.pem"
    cert_file = directory / "server.pem"
    key_file = directory / "server.key"
    ca.cert_pem.write_to_path(str(ca_file))
    with open(cert_file, "wb") as f:
        for blob in server.cert_chain_pems:
            f.write(blob.bytes())
    server.private_key_pem.write_to_path(str(key_file))
    os.chmod(ca_file, 0o644)
    os.chmod(cert_file, 0o644)
    os.chmod(key_file, 0o600)
    return Certs(directory, ca, tuple(names), ca_file, cert_file, key_file, server)
