"""Netstrings (`<len>:<payload>,`), as Postfix's socketmap speaks them.

The decoder is a pure incremental parser: no I/O, feed it whatever bytes arrived and
take back the payloads that are complete. It never buffers more than the length limit
plus a few bytes, and a malformed stream poisons it for good (the caller closes the
connection: after a framing error there is no way to find the next request).
"""

from __future__ import annotations

from privacy_milter.tlspolicy.model import TlsPolicyError

DEFAULT_MAX_LENGTH = 65536


class NetstringError(TlsPolicyError):
    """The byte stream is not a valid netstring sequence, or a payload is too long."""


def encode(payload: bytes) -> bytes:
    """One netstring for `payload`."""
    return b"%d:%s," % (len(payload), payload)


class NetstringDecoder:
    """Feed bytes in any fragmentation; get complete payloads in order."""

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < 0:
            raise ValueError("max_length must not be negative")
        self._max_length = max_length
        self._max_digits = len(str(max_length))
        self._buf = bytearray()
        self._length: int | None = None  # known once the ':' was read
        self._error: NetstringError | None = None

    @property
    def pending(self) -> bool:
        """True while a netstring has started but not finished."""
        return bool(self._buf) or self._length is not None

    def feed(self, data: bytes) -> list[bytes]:
        """Consume `data`; return the payloads it completed. Raises NetstringError."""
        if self._error is not None:
            raise self._error
        self._buf += data
        out: list[bytes] = []
        try:
            while self._step(out):
                pass
        except NetstringError as exc:
            self._error = exc
            self._buf.clear()
            raise
        return out

    def _step(self, out: list[bytes]) -> bool:
        """Parse at most one netstring from the buffer; False when more bytes are needed."""
        if self._length is None:
            colon = self._buf.find(b":", 0, self._max_digits + 1)
            if colon < 0:
                head = bytes(self._buf[: self._max_digits + 1])
                if not head.isdigit() and head:
                    raise NetstringError("netstring length is not a decimal number")
                if len(self._buf) > self._max_digits:
                    raise NetstringError(f"netstring longer than {self._max_length} bytes")
                return False
            digits = bytes(self._buf[:colon])
            if not digits or not digits.isdigit():
                raise NetstringError("netstring length is not a decimal number")
            if len(digits) > 1 and digits.startswith(b"0"):
                raise NetstringError("netstring length has a leading zero")
            length = int(digits)
            if length > self._max_length:
                raise NetstringError(f"netstring of {length} bytes exceeds the limit of {self._max_length}")
            self._length = length
            del self._buf[: colon + 1]
        if len(self._buf) < self._length + 1:
            return False
        if self._buf[self._length] != ord(","):
            raise NetstringError("netstring does not end with ','")
        out.append(bytes(self._buf[: self._length]))
        del self._buf[: self._length + 1]
        self._length = None
        return True
