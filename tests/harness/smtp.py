"""Client-side helpers shared by tests and benchmarks: send one message, wait for a socket."""

from __future__ import annotations

import smtplib
import socket
import ssl
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path


def send(port: int, raw: bytes, sender: str, rcpts: Iterable[str], *, source: str = "127.0.0.1",
         starttls: ssl.SSLContext | None = None, helo: str = "client.test") -> str:
    """Send one message to 127.0.0.1:`port`; return the queue id from Postfix's 250 reply.
    A refused recipient fails the caller's assertion; a refused DATA raises SMTPDataError."""
    with smtplib.SMTP("127.0.0.1", port, source_address=(source, 0), timeout=60) as client:
        client.ehlo(helo)
        if starttls is not None:
            client.starttls(context=starttls)
            client.ehlo(helo)
        client.mail(sender)
        for rcpt in rcpts:
            code, text = client.rcpt(rcpt)
            assert code == 250, (code, text)
        code, text = client.data(raw)
        if code != 250:
            raise smtplib.SMTPDataError(code, text)
        return text.decode().rsplit(" ", 1)[-1]


def wait_for_unix_socket(path: Path, proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """True once `path` accepts a connection; False if `proc` exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if path.exists():
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(1.0)
                    s.connect(str(path))
                return True
            except OSError:
                pass
        time.sleep(0.05)
    return False
