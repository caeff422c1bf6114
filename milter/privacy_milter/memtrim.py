"""Give freed heap back to the system after large messages (glibc's malloc and malloc_trim).

A burst of large messages leaves glibc's arenas (one per libmilter thread) holding hundreds
of megabytes that Python has freed: RSS stayed at 400-530 MB. Two measures, both glibc's own:

- `fix_mmap_threshold()` at start: glibc serves blocks from 128 KiB up with mmap, but raises
  that threshold (up to 32 MiB) each time such a block is freed, so after the first large
  message every spool buffer, decoded part and text copy of the next ones comes from the
  per-thread heaps and stays there. Fixing it (mallopt M_MMAP_THRESHOLD, which turns the
  adjustment off) returns every large block to the system when Python frees it: 100
  connections sending 10 MB each peaked at 111 MB instead of 397 MB (docs/BENCHMARKS.md,
  Memory). Smaller blocks (64 KB body chunks, Python's small objects) are unaffected.
- `trimmer`: one malloc_trim(0), a second after the last large message (so a burst costs one
  call, not one per message), for what the heaps still hold.

Without glibc (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from typing import Any

log = logging.getLogger("privacy_milter")

LARGE_MESSAGE = 4 * 1024 * 1024  # bytes of body from which a message triggers a trim
SETTLE = 1.0                     # seconds after the last large message
M_MMAP_THRESHOLD = -3            # glibc's mallopt parameter number (malloc.h)
MMAP_THRESHOLD = 128 * 1024      # glibc's own starting value, kept fixed


def _libc(name: str) -> Any:
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), name)
    except (OSError, AttributeError):
        return None


def _malloc_trim() -> Any:
    trim = _libc("malloc_trim")
    if trim is not None:
        trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve every block of `threshold` bytes or more with mmap, for good (see above).
    True when glibc took it; call once at start, before the libmilter threads exist."""
    mallopt = _libc("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))


class Trimmer:
    def __init__(self, settle: float = SETTLE) -> None:
        self._trim = _malloc_trim()
        self._settle = settle
        self._wanted = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.trims = 0

    def after_message(self, body_size: int) -> None:
        if body_size < LARGE_MESSAGE or self._trim is None:
            return
        self._wanted.set()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="malloc-trim", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wanted.wait()
            while self._wanted.is_set():  # settle: wait until a second passes with no new request
                self._wanted.clear()
                threading.Event().wait(self._settle)
            self._trim(0)
            self.trims += 1


trimmer = Trimmer()
