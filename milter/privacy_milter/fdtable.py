"""The process's open descriptors, listed without opening one.

`os.listdir("/proc/self/fd")` needs a descriptor for the directory, and `os.listdir(fd)` or
`os.scandir(fd)` duplicate the one they are given: with the table full (a flood of milter
connections), every listing fails with EMFILE, which is exactly when the connection watch
must see the table to empty it. So /proc/self/fd is opened once, at start, and read with
getdents64(2) after a rewind: no system call here allocates a descriptor. No library offers
this (the standard ones all open or duplicate), hence the few lines of ctypes.
"""

from __future__ import annotations

import ctypes
import os
import struct
import weakref
from typing import Any

_BUFFER = 64 * 1024  # about 2,700 entries of /proc/self/fd per call
# struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
_HEAD = struct.Struct("=QqHB")


def _getdents64() -> Any:
    """glibc's getdents64 wrapper (glibc 2.30 and later; Debian 12 has 2.36), or None."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).getdents64
    except (OSError, AttributeError):
        return None
    fn.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
    fn.restype = ctypes.c_ssize_t
    return fn


_GETDENTS64 = _getdents64()


def parse_dirents(data: bytes) -> list[str]:
    """The names in a buffer of linux_dirent64 records, as getdents64 fills it."""
    names, pos = [], 0
    while pos + _HEAD.size <= len(data):
        _ino, _off, reclen, _type = _HEAD.unpack_from(data, pos)
        if reclen < _HEAD.size:
            raise ValueError(f"corrupt dirent record length {reclen} at {pos}")
        raw = data[pos + _HEAD.size:pos + reclen]
        names.append(raw[:raw.index(b"\0")].decode())
        pos += reclen
    return names


class FdTable:
    """`list()`: the open descriptor numbers of this process (its own directory descriptor
    left out). Thread-safe only from one thread at a time: the connection watch's."""

    def __init__(self) -> None:
        self._dir_fd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._buf = ctypes.create_string_buffer(_BUFFER)
        self._finalizer = weakref.finalize(self, os.close, self._dir_fd)

    def close(self) -> None:
        self._finalizer()

    def list(self) -> list[int]:
        if _GETDENTS64 is None:  # not glibc: the listing needs a free descriptor
            return [int(n) for n in os.listdir("/proc/self/fd")]
        os.lseek(self._dir_fd, 0, os.SEEK_SET)  # /proc lists the table as it is now
        fds: list[int] = []
        while True:
            n = _GETDENTS64(self._dir_fd, self._buf, _BUFFER)
            if n < 0:
                err = ctypes.get_errno()
                raise OSError(err, f"getdents64(/proc/self/fd): {os.strerror(err)}")
            if n == 0:
                break
            fds.extend(int(name) for name in parse_dirents(self._buf.raw[:n]) if name not in (".", ".."))
        return [fd for fd in fds if fd != self._dir_fd]
