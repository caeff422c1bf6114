"""The daemon's signals, set up before anything else runs.

libmilter stops on SIGTERM, SIGHUP and SIGINT, which its own thread sigwaits for: they are
blocked in every other thread. SIGUSR1 reloads the policy. It gets a handler and a wakeup
pipe instead of a sigwait: whichever thread the kernel hands it to (a native library's
worker, libmilter's signal thread, which sets a mask of its own), Python's C-level handler
writes one byte to the pipe, and the reload thread reads it. With only a sigwait, a thread
that left SIGUSR1 unblocked would take the default action: the process would die.
Nothing here imports anything that starts threads.
"""

from __future__ import annotations

import os
import select
import signal

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
RELOAD_SIGNAL = signal.SIGUSR1

_reload_fd: int | None = None


def prepare() -> None:
    """In the main thread, before any other thread starts (the mask is inherited)."""
    global _reload_fd
    if _reload_fd is not None:
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {RELOAD_SIGNAL})
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    signal.signal(RELOAD_SIGNAL, lambda signum, frame: None)  # handled: never "terminate"
    signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    _reload_fd = read_end


def wait_for_reload(timeout: float | None = None) -> int:
    """Block until SIGUSR1 arrives (or `timeout`); return how many arrived meanwhile
    (0 on timeout). Other handled signals on the pipe are ignored."""
    if _reload_fd is None:
        raise RuntimeError("signals.prepare() was not called")
    ready, _, _ = select.select([_reload_fd], [], [], timeout)
    if not ready:
        return 0
    data = os.read(_reload_fd, 4096)
    return data.count(bytes([RELOAD_SIGNAL]))
