"""Idle and surplus milter connections: the bound libmilter does not keep.

Debian's libmilter is built with its worker pool (_FFR_WORKERS_POOL). Between commands a
session sits in the pool controller's poll set, and the controller looks for sessions idle
past smfi_settimeout only every 600 s (DT_CHECK_OLD_SESSIONS, fixed at compile time); a
client that connects and sends nothing, or only the option negotiation, holds a descriptor
that long. So this thread does it: once a second it lists the process's sockets, picks the
ones accepted on the milter socket, and shuts down (never closes: libmilter owns the
descriptor and closes it itself on the EOF) any that saw no command for `timeout` seconds
and is not inside a callback. It also counts them: past `max_connections` new messages are
tempfailed, and crossing the cap either way, or nearing the descriptor limit, is logged
once per change.

The descriptor table is the other bound. libmilter accepts while accept() succeeds, so a
flood of idle connections fills the table; then every new Postfix connection waits in the
listen backlog behind the flood (libmilter retries accept() on EMFILE at once, forever),
and mail stalls. So the sweep needs no new descriptor at all (fdtable.py lists /proc/self/fd
through a directory descriptor opened at start; a socket is examined in place when it cannot
be duplicated), and when fewer than a reserve of descriptors are free it closes the
longest-silent milter connections until twice the reserve is free again, logging the state
once when it starts and once when it ends.

Activity comes from the callback wiring (daemon.py), which knows each connection's socket
by the descriptor libmilter stored in its context (`context_fd`).
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from .fdtable import FdTable

log = logging.getLogger("privacy_milter")

SWEEP_INTERVAL = 1.0
FD_WARN_FRACTION = 0.8
EVICT_IDLE = 5.0  # over the cap, connections silent this long are closed, the longest silent first
# Under descriptor pressure a connection silent this long may be closed (longest silent
# first): a Postfix session is active within milliseconds of its milter connection.
PRESSURE_IDLE = 1.0


def fd_reserve(soft_limit: int) -> int:
    """Descriptors kept free for mail (a connection from Postfix, a spool file, the store):
    1/32 of the limit, at least 16 (128 of the shipped LimitNOFILE=4096)."""
    return max(16, soft_limit // 32)


def socket_inode(fd: int) -> int | None:
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None
    if target.startswith("socket:["):
        return int(target[8:-1])
    return None


def context_fd(ctx: Any, timeout: int) -> int | None:
    """The socket of a pymilter context, read from libmilter's SMFICTX (ctx_sd).

    pymilter 1.0.5's context object holds the SMFICTX pointer right after PyObject_HEAD;
    libmilter 8.17's struct starts {pthread_t ctx_id; int ctx_sd; int ctx_dbg; time_t
    ctx_timeout}. The read is checked: ctx_timeout must be the timeout we set, and the
    descriptor must be a socket; otherwise None (the connection is then judged by its
    age alone, as one that never sent a command). Kept (rather than no activity tracking)
    because pymilter offers no other way to a connection's socket; the layout is pinned by
    tests/unit/test_connwatch.py, which asks the real libmilter and compares the socket's
    peer with the client's own address, so a libmilter or pymilter update that moves it
    fails there."""
    if ctx is None:
        return None
    try:
        ptr = ctypes.c_void_p.from_address(id(ctx) + object.__basicsize__).value
        if not ptr or ptr % 8:
            return None
        fd = ctypes.c_int.from_address(ptr + 8).value
        ctx_timeout = ctypes.c_long.from_address(ptr + 16).value
    except (ValueError, OSError):
        return None
    if ctx_timeout != timeout or fd < 0 or socket_inode(fd) is None:
        return None
    return fd


class ConnectionWatch:
    def __init__(self, spec: str, timeout: int, max_connections: int, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        kind, _, rest = spec.partition(":")
        self._unix_path = rest if kind == "unix" else None
        self._port = int(rest.partition("@")[0]) if kind != "unix" else None
        self.timeout = timeout
        self.max_connections = max_connections
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[int, float] = {}     # inode -> last command seen (from the wiring)
        self._busy: dict[int, int] = {}       # inode -> callbacks running now
        self._first: dict[int, float] = {}    # inode -> first seen by a sweep
        self._is_milter: dict[int, bool] = {}
        self._shut: set[int] = set()          # shut down, waiting for libmilter to close them
        self.open_connections = 0
        self.over_cap = False
        self._fd_warned = False
        self._fds = FdTable()
        self.fd_pressure = False     # fewer than fd_reserve() descriptors free
        self._pressure_closed = 0    # connections closed for descriptors in this episode
        self._failing = 0            # sweeps failed in a row (logged once per episode)

    def close(self) -> None:
        self._fds.close()

    # --- from the callback wiring (libmilter threads) ----------------------------------

    def enter(self, inode: int) -> None:
        with self._lock:
            self._busy[inode] = self._busy.get(inode, 0) + 1
            self._last[inode] = self._clock()

    def leave(self, inode: int) -> None:
        with self._lock:
            left = self._busy.get(inode, 1) - 1
            if left > 0:
                self._busy[inode] = left
            else:
                self._busy.pop(inode, None)
            self._last[inode] = self._clock()

    def forget(self, inode: int) -> None:
        with self._lock:
            self._busy.pop(inode, None)
            self._last.pop(inode, None)

    # --- the sweep -----------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(SWEEP_INTERVAL):
            self.sweep_once()

    def sweep_once(self) -> None:
        """One sweep that never raises; a failure is logged when it starts (with its
        traceback) and when sweeps work again, not once a second."""
        try:
            self.sweep()
        except Exception:  # the watch must never take the daemon down
            self._failing += 1
            if self._failing == 1:
                log.exception("connection watch: sweep failed (logged once until it works again)")
            return
        if self._failing:
            log.warning("connection watch: sweeps work again after %d failed", self._failing)
            self._failing = 0

    def sweep(self) -> int:
        """One pass; returns how many connections idle past the timeout were shut down. Over
        the cap, connections silent for EVICT_IDLE seconds are closed too, longest first: a
        flood of idle connections then costs the flood, not the mail."""
        now = self._clock()
        sockets, total_fds = self._sockets()
        idle: list[tuple[int, int]] = []
        spare: list[tuple[float, int, int]] = []  # (silent since, fd, inode): eviction candidates
        with self._lock:
            live = set()
            for fd, inode in sockets:
                if not self._milter_session(fd, inode):
                    continue
                live.add(inode)
                first = self._first.setdefault(inode, now)
                if inode in self._busy or inode in self._shut:
                    continue
                silent = now - self._last.get(inode, first)
                if silent > self.timeout:
                    idle.append((fd, inode))
                elif silent >= PRESSURE_IDLE:
                    spare.append((self._last.get(inode, first), fd, inode))
            for gone in set(self._first) - live:
                del self._first[gone]
            for gone in set(self._last) - live:  # closed without a close callback; not just accepted
                if now - self._last[gone] > 2 * SWEEP_INTERVAL:
                    self._last.pop(gone, None)
                    self._busy.pop(gone, None)
            present = {inode for _fd, inode in sockets}
            self._shut &= present
            closing = len(self._shut)  # shut down earlier, libmilter about to close them
            self._is_milter = {i: v for i, v in self._is_milter.items() if i in present}
            self.open_connections = len(live - self._shut)
        closed = 0
        for fd, inode in idle:
            if _shutdown(fd, inode):
                closed += 1
                self._shut.add(inode)
        if closed:
            log.warning("closed %d milter connection(s) idle for more than %ds", closed, self.timeout)
        evicted = 0
        excess = self.open_connections - closed - self.max_connections
        over_cap = [c for c in sorted(spare) if now - c[0] >= EVICT_IDLE]
        for _since, fd, inode in over_cap[:max(0, excess)]:
            if _shutdown(fd, inode):
                evicted += 1
                self._shut.add(inode)
        if evicted:
            log.warning("closed %d idle milter connection(s) to get back under [milter] max_connections = %d",
                        evicted, self.max_connections)
        freed = closed + evicted
        freed += self._relieve(total_fds - closing - freed, spare, now)
        self._check_cap(self.open_connections - freed)
        self._check_fds(total_fds - freed)
        return closed

    def _relieve(self, total: int, spare: list[tuple[float, int, int]], now: float) -> int:
        """Fewer than the reserve of descriptors free: close the longest-silent milter
        connections until twice the reserve is free. Returns how many were closed."""
        soft = _soft_limit()
        if soft is None:
            return 0
        reserve = fd_reserve(soft)
        if not self.fd_pressure and total < soft - reserve:
            return 0
        excess = total - (soft - 2 * reserve)
        closed = 0
        for since, fd, inode in sorted(spare):
            if closed >= excess or now - since < PRESSURE_IDLE:
                break
            if inode not in self._shut and _shutdown(fd, inode):
                closed += 1
                self._shut.add(inode)
        self._pressure_state(total - closed, soft, reserve, closed)
        return closed

    def _pressure_state(self, total: int, soft: int, reserve: int, closed: int) -> None:
        self._pressure_closed += closed
        under = total > soft - 2 * reserve
        if under and not self.fd_pressure:
            self.fd_pressure = True
            log.error("file descriptors: %d open of a limit of %d (LimitNOFILE): closing the longest-idle "
                      "milter connections to keep %d free (logged again when it ends)", total, soft, reserve)
        elif not under and self.fd_pressure:
            self.fd_pressure = False
            log.warning("file descriptors: %d open of %d, the reserve is free again; %d idle milter "
                        "connection(s) were closed meanwhile", total, soft, self._pressure_closed)
            self._pressure_closed = 0

    def _sockets(self) -> tuple[list[tuple[int, int]], int]:
        found = []
        fds = self._fds.list()  # no new descriptor: works with a full table
        for fd in fds:
            inode = socket_inode(fd)
            if inode is not None:
                found.append((fd, inode))
        return found, len(fds)

    def _milter_session(self, fd: int, inode: int) -> bool:
        known = self._is_milter.get(inode)
        if known is None:
            known = self._is_milter[inode] = self._classify(fd, inode)
        return known

    def _classify(self, fd: int, inode: int) -> bool:
        with _same_socket(fd, inode) as sock:
            if sock is None or sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                return False  # gone, reused, or the listening socket itself
            name = sock.getsockname()
            if self._unix_path is not None:
                return sock.family == socket.AF_UNIX and name == self._unix_path
            return sock.family in (socket.AF_INET, socket.AF_INET6) and name[1] == self._port
        return False  # an OSError on the socket: not ours to judge

    def _check_cap(self, count: int) -> None:
        over = count > self.max_connections
        if over != self.over_cap:
            self.over_cap = over
            if over:
                log.error("milter connections: %d open, over [milter] max_connections = %d: "
                          "new messages are tempfailed until connections close", count, self.max_connections)
            else:
                log.warning("milter connections: %d open, back under [milter] max_connections = %d",
                            count, self.max_connections)

    def _check_fds(self, total: int) -> None:
        soft = _soft_limit()
        near = soft is not None and total >= FD_WARN_FRACTION * soft
        if near != self._fd_warned:
            self._fd_warned = near
            if near:
                log.error("file descriptors: %d open of a limit of %d (LimitNOFILE); "
                          "lower [milter] max_connections or raise the limit", total, soft)
            else:
                log.warning("file descriptors: %d open, back under 80%% of the limit of %d", total, soft)


def _soft_limit() -> int | None:
    """The soft RLIMIT_NOFILE now (read each sweep: prlimit can change it), None if unlimited."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _socket_view(fd: int, inode: int) -> tuple[socket.socket | None, bool]:
    """(socket, owned): a duplicate of `fd` (owned: close it), or, when the table is full and
    nothing can be duplicated, a view of libmilter's own descriptor (not owned: detach it,
    never close it). None unless `fd` is the socket `inode`."""
    try:
        return socket.socket(fileno=os.dup(fd)), True
    except OSError as exc:
        if exc.errno not in (errno.EMFILE, errno.ENFILE):
            return None, False
    try:
        # In place, the check and the use are two system calls apart instead of pinned by
        # the duplicate; an idle connection is not being closed by libmilter meanwhile.
        if os.fstat(fd).st_ino != inode:
            return None, False
        return socket.socket(fileno=fd), False
    except OSError:
        return None, False


@contextlib.contextmanager
def _same_socket(fd: int, inode: int) -> Iterator[socket.socket | None]:
    """The socket `inode` at `fd`, or None: a descriptor number libmilter has meanwhile
    closed and reused is never touched. OSErrors inside are swallowed (the with-block then
    ends early)."""
    sock, owned = _socket_view(fd, inode)
    if sock is None:
        yield None
        return
    try:
        yield sock if os.fstat(sock.fileno()).st_ino == inode else None
    except OSError:
        pass
    finally:
        if owned:
            sock.close()
        else:
            sock.detach()


def _shutdown(fd: int, inode: int) -> bool:
    """Shut the socket down (libmilter then sees EOF and closes its own descriptor)."""
    with _same_socket(fd, inode) as sock:
        if sock is None:
            return False
        sock.shutdown(socket.SHUT_RDWR)
        return True
    return False


def raise_fd_limit(max_connections: int) -> None:
    """Soft descriptor limit up to the hard one; warn if the cap cannot fit under it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    # Each connection is one descriptor, a message being spooled one more; 64 for the rest.
    if soft != resource.RLIM_INFINITY and 2 * max_connections + 64 > soft:
        log.warning("file descriptor limit %d is low for [milter] max_connections = %d; "
                    "set LimitNOFILE to at least %d", soft, max_connections, 2 * max_connections + 64)
