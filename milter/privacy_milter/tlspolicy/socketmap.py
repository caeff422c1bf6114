"""Postfix socketmap requests (`name <space> key`) and responses (`STATUS data`).

See socketmap_table(5): the reply is one of `OK data`, `NOTFOUND `, `TEMP reason`,
`TIMEOUT reason`, `PERM reason`; Postfix limits a reply to 100000 bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from privacy_milter.tlspolicy.model import TlsPolicyError

MAX_REPLY_BYTES = 100000


class SocketmapError(TlsPolicyError):
    """A netstring payload that is not a socketmap request."""


class Status(enum.Enum):
    OK = "OK"
    NOTFOUND = "NOTFOUND"
    TEMP = "TEMP"
    TIMEOUT = "TIMEOUT"
    PERM = "PERM"


@dataclass(frozen=True)
class Request:
    name: str
    key: str


@dataclass(frozen=True)
class Response:
    status: Status
    data: str = ""

    @classmethod
    def ok(cls, data: str) -> Response:
        return cls(Status.OK, data)

    @classmethod
    def notfound(cls) -> Response:
        return cls(Status.NOTFOUND, "")

    @classmethod
    def temp(cls, reason: str) -> Response:
        return cls(Status.TEMP, reason)

    @classmethod
    def perm(cls, reason: str) -> Response:
        return cls(Status.PERM, reason)

    def encode(self) -> bytes:
        """The netstring payload. Control characters in `data` are replaced: Postfix would
        log them raw, and a newline could forge a log line."""
        clean = "".join(c if c.isprintable() else "?" for c in self.data)
        raw = f"{self.status.value} {clean}".encode("utf-8", "replace")
        if len(raw) > MAX_REPLY_BYTES:
            raise SocketmapError("socketmap reply longer than Postfix accepts")
        return raw

    def __str__(self) -> str:
        return f"{self.status.value} {self.data}"


def parse_request(payload: bytes) -> Request:
    """`b"name key"` → Request. Raises SocketmapError with an admin-readable reason."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise SocketmapError("request is not UTF-8") from None
    name, sep, key = text.partition(" ")
    if not sep or not name:
        raise SocketmapError("request is not 'name key'")
    if not key or any(not c.isprintable() or c.isspace() for c in key):
        raise SocketmapError("request key is empty or has spaces or control characters")
    if not name.isprintable():
        raise SocketmapError("request name has control characters")
    return Request(name=name, key=key)


def parse_response(payload: bytes) -> Response:
    """For clients and tests: `b"OK dane-only"` → Response."""
    text = payload.decode("utf-8", "replace")
    status, _, data = text.partition(" ")
    try:
        return Response(Status(status), data)
    except ValueError:
        raise SocketmapError(f"unknown socketmap status {status[:20]!r}") from None
