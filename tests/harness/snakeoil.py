"""A certificate made the way Debian's make-ssl-cert makes /etc/ssl/certs/ssl-cert-snakeoil.pem:
self-signed (its own issuer, no CA above it), CN and subjectAltName = the host name.

Postfix on a stock Debian 12 offers STARTTLS with exactly such a certificate, so a client
that verifies cannot use it; trustme certificates (certs.py) chain to a CA a test can
trust, which is not the real-host condition.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = "/usr/bin/openssl"


@dataclass(frozen=True)
class Snakeoil:
    cert_file: Path   # PEM, self-signed
    key_file: Path    # PEM, 0600


def make_snakeoil(directory: Path | str, host_name: str, timeout: float = 60.0) -> Snakeoil:
    """Write ssl-cert-snakeoil.pem/.key under `directory` (RSA 2048, SHA-256, 10 years, as
    make-ssl-cert does)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "ssl-cert-snakeoil.pem", directory / "ssl-cert-snakeoil.key"
    subprocess.run([OPENSSL, "req", "-new", "-x509", "-days", "3650", "-nodes", "-sha256",
                    "-newkey", "rsa:2048", "-subj", f"/CN={host_name}",
                    "-addext", f"subjectAltName=DNS:{host_name}",
                    "-out", str(cert), "-keyout", str(key)],
                   check=True, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    os.chmod(key, 0o600)
    os.chmod(cert, 0o644)
    return Snakeoil(cert, key)
