"""A minimal MTA side of the milter protocol over a raw socket: hostile and idle clients.

Speaks only what the tests need (OPTNEG, macros, MAIL, RCPT, headers, body, end of
message) and honours the steps the milter negotiated away, so it never waits for a reply
that is not coming. Every read is bounded by the socket timeout.
"""

from __future__ import annotations

import socket
import struct
from pathlib import Path

# Protocol bits (libmilter's mfdef.h).
NOCONNECT, NOHELO, NOMAIL, NORCPT, NOBODY, NOHDRS, NOEOH = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20, 0x40
NR_HDR, NR_MAIL, NR_RCPT, NR_EOH, NR_BODY = 0x80, 0x4000, 0x8000, 0x40000, 0x80000
ALL_ACTIONS, ALL_STEPS = 0x1FF, 0x1FFFFF
FINAL_REPLIES = {b"a", b"c", b"t", b"r", b"y", b"d"}


class RawMilter:
    def __init__(self, path: Path | str, timeout: float = 10.0) -> None:
        """`path`: the milter's unix socket, or "inet:PORT@HOST"."""
        spec = str(path)
        if spec.startswith("inet:"):
            port, _, host = spec.removeprefix("inet:").partition("@")
            self.sock = socket.create_connection((host or "127.0.0.1", int(port)), timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(spec)
        self.sock.settimeout(timeout)
        self.protocol = 0

    def close(self) -> None:
        self.sock.close()

    def send(self, cmd: bytes, data: bytes = b"") -> None:
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def read(self) -> tuple[bytes, bytes]:
        """One reply packet: (code, data). Raises ConnectionError on EOF."""
        size = struct.unpack(">I", self._exact(4))[0]
        body = self._exact(size)
        return body[:1], body[1:]

    def _exact(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("milter closed the connection")
            buf += chunk
        return buf

    def negotiate(self) -> int:
        self.send(b"O", struct.pack(">III", 6, ALL_ACTIONS, ALL_STEPS))
        code, data = self.read()
        assert code == b"O", code
        _version, _actions, self.protocol = struct.unpack(">III", data[:12])
        return self.protocol

    def macros(self, stage: bytes, values: dict[str, str]) -> None:
        self.send(b"D", stage + b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in values.items()))

    def _step(self, skip: int, noreply: int, cmd: bytes, data: bytes) -> None:
        if self.protocol & skip:
            return
        self.send(cmd, data)
        if not self.protocol & noreply:
            code, _ = self.read()
            assert code == b"c", code

    def mail(self, sender: str) -> None:
        self._step(NOMAIL, NR_MAIL, b"M", f"<{sender}>".encode() + b"\0")

    def rcpt(self, rcpt: str) -> None:
        self._step(NORCPT, NR_RCPT, b"R", f"<{rcpt}>".encode() + b"\0")

    def header(self, name: bytes, value: bytes) -> None:
        self._step(NOHDRS, NR_HDR, b"L", name + b"\0" + value + b"\0")

    def eoh(self) -> None:
        self._step(NOEOH, NR_EOH, b"N", b"")

    def body(self, chunk: bytes) -> None:
        self._step(NOBODY, NR_BODY, b"B", chunk)

    def eom(self, queue_id: str = "RAW1") -> bytes:
        """End of message; returns the final reply code (b'a' accept, b't' tempfail, b'r'
        reject; a custom reply (b'y') counts as b't' or b'r' by its first digit)."""
        self.macros(b"E", {"i": queue_id})
        self.send(b"E")
        while True:
            code, data = self.read()
            if code == b"y":
                return b"t" if data[:1] == b"4" else b"r"
            if code in FINAL_REPLIES:
                return code


def message(path: Path | str, headers: list[tuple[bytes, bytes]], body: bytes = b"hello\r\n",
            sender: str = "alice@shop.example", rcpts: tuple[str, ...] = ("bob@far.example",),
            queue_id: str = "RAW1", timeout: float = 10.0) -> bytes:
    """One whole message on a fresh connection; returns the end-of-message reply code."""
    m = RawMilter(path, timeout)
    try:
        m.negotiate()
        m.macros(b"M", {"i": queue_id, "{client_addr}": "192.0.2.7"})
        m.mail(sender)
        for r in rcpts:
            m.rcpt(r)
        for name, value in headers:
            m.header(name, value)
        m.eoh()
        m.body(body)
        return m.eom(queue_id)
    finally:
        m.close()
