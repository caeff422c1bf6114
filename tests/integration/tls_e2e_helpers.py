"""Helpers for tests/integration/test_tls_postfix.py (a plain module, not a test).

The end-to-end TLS test runs a real Postfix that looks up MX, TLSA and A records in a
DNS stub, the real `privacy-milter run` daemon (milter + socketmap TLS policy service),
aiosmtpd sinks on port 25 of distinct loopback addresses, and an MTA-STS HTTPS server on
port 443. This module holds the pieces that are not tests:

- `pick_loopback_block()`: a 127.x.y. prefix whose .77:53, sink :25 and HTTPS :443 are free
  (127.0.0. first, as docs suggest; another block when a parallel run holds it);
- `TcpForwarder`: ADDRESS:443 → the MTA-STS server's random port (the harness server
  binds port 0, and a real MTA-STS client always connects to 443);
- `NamespacedMilter`: MilterProcess started inside its own mount namespace with the stub's
  resolv.conf bind-mounted over /etc/resolv.conf and SSL_CERT_FILE set to the test CA, so
  the daemon's MTA-STS fetch resolves mta-sts.DOMAIN through the stub and trusts the test
  CA, the same way a production host uses its system resolver and CA store;
- `spki_sha256()`: the TLSA 3 1 1 association data of a certificate;
- `encrypt_transport_lines()`: the privacy-encrypt service from deploy/postfix/master.cf,
  with chroot off and the strip file pointing at a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.harness.milter_process import START_TIMEOUT, VENV_BIN, MilterProcess

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[2]
DEPLOY_POSTFIX = REPO / "deploy" / "postfix"
FORWARD_IDLE_TIMEOUT = 30.0


# --- addresses ---------------------------------------------------------------------------

def _can_bind(host: str, port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def pick_loopback_block(sink_hosts: Iterable[int], https_host: int, dns_host: int = 77,
                        tries: int = 40) -> str:
    """A prefix like "127.0.0." where DNS (UDP+TCP 53), every sink (TCP 25) and the HTTPS
    forwarder (TCP 443) can bind. Bounded: `tries` blocks, then RuntimeError."""
    sinks = list(sink_hosts)
    prefixes = ["127.0.0."] + [f"127.44.{n}." for n in range(1, tries)]
    for prefix in prefixes:
        if not (_can_bind(prefix + str(dns_host), 53, socket.SOCK_DGRAM)
                and _can_bind(prefix + str(dns_host), 53, socket.SOCK_STREAM)):
            continue
        if not all(_can_bind(prefix + str(h), 25, socket.SOCK_STREAM) for h in sinks):
            continue
        if not _can_bind(prefix + str(https_host), 443, socket.SOCK_STREAM):
            continue
        return prefix
    raise RuntimeError("no loopback block with ports 25, 53 and 443 free")


# --- waiting -----------------------------------------------------------------------------

def wait_until(probe: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """Call `probe` until it returns something truthy; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- certificates ------------------------------------------------------------------------

def spki_sha256(cert_pem: bytes) -> str:
    """Hex SHA-256 of the certificate's SubjectPublicKeyInfo: TLSA `3 1 1` data."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def write_leaf(leaf, directory: Path, stem: str) -> tuple[Path, Path]:  # leaf: trustme.LeafCert
    """Write a trustme leaf as STEM.pem (chain) and STEM.key (0600); return both paths."""
    cert_file, key_file = directory / f"{stem}.pem", directory / f"{stem}.key"
    with open(cert_file, "wb") as f:
        f.writelines(blob.bytes() for blob in leaf.cert_chain_pems)
    leaf.private_key_pem.write_to_path(str(key_file))
    os.chmod(cert_file, 0o644)
    os.chmod(key_file, 0o600)
    return cert_file, key_file


# --- Postfix configuration ------------------------------------------------------------------

def encrypt_transport_lines(strip_file: Path, source: str = "master.cf", ca_file: Path | None = None) -> str:
    """The service lines of deploy/postfix/`source`, chroot off, strip file → our copy, and
    (master-relayhost.cf) the system CA file → `ca_file`."""
    out: list[str] = []
    for line in (DEPLOY_POSTFIX / source).read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not line[:1].isspace():
            fields = line.split()
            fields[4] = "n"  # our queue directory is not a chroot jail
            line = " ".join(fields)
        line = line.replace("/etc/postfix/privacy-milter-strip.regexp", str(strip_file))
        if ca_file is not None:
            line = line.replace("/etc/ssl/certs/ca-certificates.crt", str(ca_file))
        out.append(line)
    text = "\n".join(out) + "\n"
    if "privacy-encrypt" not in text or str(strip_file) not in text or (ca_file and str(ca_file) not in text):
        raise AssertionError(f"deploy/postfix/{source} has changed shape:\n{text}")
    return text


def copy_deploy_file(name: str, directory: Path) -> Path:
    target = directory / name
    target.write_text((DEPLOY_POSTFIX / name).read_text())
    os.chmod(target, 0o644)
    return target


def deferred_line(maillog: str, queue_id: str) -> str | None:
    """The `status=deferred` line for this queue id, if any."""
    m = re.search(rf"^.*{re.escape(queue_id)}: to=<[^>]*>.*status=deferred \(.*\)$", maillog, re.MULTILINE)
    return m.group(0) if m else None


# --- the daemon, in the stub's DNS view -------------------------------------------------------

class NamespacedMilter(MilterProcess):
    """privacy-milter run in its own mount namespace (resolv.conf → the DNS stub) with
    SSL_CERT_FILE → the test CA. `unshare` and `sh` exec, so the Popen pid is the daemon's."""

    def __init__(self, base: Path, policy_text: str, tls_policy: str, *, resolv_conf: Path,
                 ca_file: Path, env: dict[str, str] | None = None) -> None:
        super().__init__(base, policy_text, tls_policy, env=env)
        self.resolv_conf = resolv_conf
        self.ca_file = ca_file

    def start(self) -> NamespacedMilter:
        run = [str(VENV_BIN / "privacy-milter"), "run", "--policy", str(self.policy_path)]
        inner = f"mount --bind {shlex.quote(str(self.resolv_conf))} /etc/resolv.conf && exec {shlex.join(run)}"
        env = dict(os.environ, **(self.env or {}), SSL_CERT_FILE=str(self.ca_file))
        env.pop("SSL_CERT_DIR", None)
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed by MilterProcess.stop()
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", inner],
                                     stdout=self._log, stderr=subprocess.STDOUT, env=env)
        try:
            self.wait_for_log(r"privacy-milter ready on", START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self


# --- port 443 → the MTA-STS server ------------------------------------------------------------

class TcpForwarder:
    """Accept on (host, port) and pipe each connection to `target`. Threads, bounded waits."""

    def __init__(self, host: str, port: int, target: tuple[str, int]) -> None:
        self.host, self.port, self.target = host, port, target
        self._sock: socket.socket | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> TcpForwarder:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.host, self.port))
        s.listen(16)
        s.settimeout(0.2)
        self._sock = s
        t = threading.Thread(target=self._accept_loop, name=f"fwd-{self.host}:{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def _accept_loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            for conn in (client, upstream):
                conn.settimeout(FORWARD_IDLE_TIMEOUT)
            with self._lock:
                self._conns.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                t = threading.Thread(target=self._pump, args=(a, b), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

    def stop(self) -> None:
        self._stop.set()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()
        for t in self._threads:
            t.join(2)
        self._threads.clear()

