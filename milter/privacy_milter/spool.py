"""Message bytes without copies: the body spool, and one reader over header block + body.

Every content check reads the message as Postfix holds it. Rebuilding it per check (DLP,
virus, spam) copied the body each time; `RawReader` instead reads the header block and then
the body spool through positional reads, so each check gets an independent reader over the
same bytes, in memory or on disk, and nothing is copied.
"""

from __future__ import annotations

import io
import os
import tempfile
from typing import Any, BinaryIO

# Bodies up to this size stay in memory; larger ones are spooled to a temporary file.
SPOOL_MAX_MEMORY = 1024 * 1024


def new_spool() -> BinaryIO:
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY, mode="w+b")  # type: ignore[return-value]


class RawReader(io.RawIOBase):
    """`head` followed by the first `size` bytes of `body` (a spool), read-only and seekable."""

    def __init__(self, head: bytes, body: Any, size: int) -> None:
        self._head = head
        self._size = len(head) + size
        self._pos = 0
        inner = getattr(body, "_file", body)  # SpooledTemporaryFile: BytesIO until it rolls over
        if isinstance(inner, io.BytesIO):
            self._memory: memoryview | None = inner.getbuffer()[:size]
            self._fd = -1
        else:
            self._memory = None
            inner.flush()
            self._fd = inner.fileno()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """At most what is left: read(25 MB) of a 4 KB message allocates 4 KB, not 25 MB
        (io.BufferedReader and RawIOBase.read allocate the whole request first)."""
        left = self._size - self._pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        buf = bytearray(n)
        got = self.readinto(buf)
        return bytes(buf) if got == n else bytes(buf[:got])

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._pos)
        if want <= 0:
            return 0
        done = 0
        head = len(self._head)
        if self._pos < head:
            n = min(want, head - self._pos)
            view[:n] = self._head[self._pos:self._pos + n]
            done = n
        if done < want:
            start = self._pos + done - head
            n = want - done
            if self._memory is not None:
                view[done:want] = self._memory[start:start + n]
            else:
                n = os.preadv(self._fd, [view[done:want]], start)
            done += n
        self._pos += done
        return done

    def close(self) -> None:
        if self._memory is not None:
            self._memory.release()  # the BytesIO can be written or closed again
            self._memory = None
        super().close()


def open_raw(head: bytes, body: Any, size: int) -> BinaryIO:
    """Unbuffered on purpose: readers take large pieces (the whole message, or 64 KB chunks)."""
    return RawReader(head, body, size)  # type: ignore[return-value]
