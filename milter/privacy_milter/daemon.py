"""`privacy-milter run`: start-up, signals, the libmilter main loop, and shutdown.

Threads: libmilter runs its own (one per SMTP connection, plus one that sigwaits on
SIGTERM/SIGHUP/SIGINT to stop); the event loop runs in another; a small thread sigwaits
on SIGUSR1 and reloads the policy itself, off the loop; another watches the milter
connections (connwatch.py). All four signals are blocked in every thread before any
thread starts, so each is delivered only where it is waited for.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

import Milter

from . import memtrim, signals
from .adapter import MilterAdapter
from .connwatch import ConnectionWatch, context_fd, raise_fd_limit, socket_inode
from .errors import PolicyError, PrivacyMilterError
from .logsetup import configure_logging
from .loopthread import LoopThread
from .policy import Overrides, load_with, milter_socket_warnings
from .runtime import Runtime

log = logging.getLogger("privacy_milter")

# pymilter's C module. Imported by name so type checkers, which see the repo's milter/ folder
# as a namespace package, do not confuse the two.
libmilter: Any = importlib.import_module("milter")

EX_OK, EX_USAGE, EX_UNAVAILABLE, EX_SOFTWARE, EX_CONFIG = 0, 64, 69, 70, 78
STOP_SIGNALS, RELOAD_SIGNAL = signals.STOP_SIGNALS, signals.RELOAD_SIGNAL
RELOAD_MIN_INTERVAL = 1.0


def run(policy_path: Path, overrides: Overrides) -> int:
    try:
        policy = load_with(policy_path, overrides)
    except PolicyError as exc:
        print(f"privacy-milter: not starting: {exc}", file=sys.stderr)
        return EX_CONFIG
    configure_logging(policy.log)
    for warning in milter_socket_warnings(policy.milter):
        log.warning("%s", warning)
    signals.prepare()  # normally done by the CLI before anything is imported
    if not memtrim.fix_mmap_threshold():  # large blocks go back to the system when freed
        log.info("memory: not glibc, large freed blocks may stay in the heap")

    loop = LoopThread()
    loop.start()
    try:
        runtime = loop.run(Runtime.start(policy, policy_path=policy_path, overrides=overrides), 60)
    except PrivacyMilterError as exc:
        log.error("not starting: %s", exc)
        loop.stop()
        return EX_UNAVAILABLE

    threading.Thread(target=_reload_on_signal, args=(runtime,), name="sigusr1", daemon=True).start()
    runtime.attach(loop)
    Milter.factory = lambda: MilterAdapter(runtime)
    settings = runtime.policy.milter
    raise_fd_limit(settings.max_connections)
    watch = ConnectionWatch(settings.socket, settings.timeout, settings.max_connections)
    stop_watch = threading.Event()
    threading.Thread(target=watch.run, args=(stop_watch,), name="connwatch", daemon=True).start()
    code = EX_OK
    try:
        _serve(settings.socket, settings.socket_mode, settings.timeout, Wiring(watch, settings.timeout))
    except libmilter.error as exc:
        log.error("milter stopped: %s", exc)
        code = EX_UNAVAILABLE
    finally:
        stop_watch.set()
        log.info("stopping: writing pending records")
        try:
            loop.run(runtime.stop(), 30)
        except Exception as exc:
            log.error("shutdown: %s", exc)
        loop.stop()
    return code


class Wiring:
    """Between libmilter and the adapters: tells the connection watch which connection is
    active and busy, tempfails new messages past the connection cap, and answers for a
    context that has no adapter (tempfail at end of message, never an exception)."""

    def __init__(self, watch: ConnectionWatch, timeout: int) -> None:
        self.watch = watch
        self.timeout = timeout

    def call(self, ctx: Any, method: str, *args: Any) -> int:
        adapter = ctx.getpriv()
        if adapter is None:
            return Milter.TEMPFAIL if method == "eom" else Milter.CONTINUE
        inode = self._inode(ctx, adapter)
        if inode is not None:
            self.watch.enter(inode)
        try:
            result: int = getattr(adapter, method)(*args)
            if method == "envfrom_bytes" and self.watch.over_cap:
                adapter.refuse("over [milter] max_connections")
            return result
        finally:
            if inode is not None:
                self.watch.leave(inode)

    def close(self, ctx: Any) -> int:
        adapter = ctx.getpriv()
        inode = self._inode(ctx, adapter) if adapter is not None else None
        try:
            result: int = Milter.close_callback(ctx)
            return result
        finally:
            if inode is not None:
                self.watch.forget(inode)

    def _inode(self, ctx: Any, adapter: Any) -> int | None:
        inode: int | None = getattr(adapter, "connection_inode", 0)
        if inode == 0:  # not looked up yet
            fd = context_fd(ctx, self.timeout)
            inode = adapter.connection_inode = socket_inode(fd) if fd is not None else None
        return inode


def _excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
    """pymilter decodes a header name as strict UTF-8 in C, before any code of ours runs,
    and reports the failure here. Say what happened in one line instead of a traceback."""
    if isinstance(value, UnicodeDecodeError) and tb is None:
        log.warning("a header whose name is not UTF-8 was skipped (byte 0x%02x); the message goes on",
                    value.object[value.start] if value.start < len(value.object) else 0)
        return
    sys.__excepthook__(kind, value, tb)


def _serve(spec: str, mode: int, timeout: int, wiring: Wiring) -> None:
    """Milter.runmilter's steps, done here for reasons of safety, not speed:
    - the unix socket is born with its mode (umask around opensocket): runmilter creates it
      with the process umask, and a chmod after leaves a window where Postfix cannot
      connect or anyone can;
    - every callback goes through `Wiring`, which needs libmilter's context to find the
      connection's socket for the connection watch (idle and over-cap connections: the
      bound libmilter does not keep) and answers for a context without an adapter;
    - the exception policy and excepthook below (pymilter's own would tempfail a step
      Postfix expects no reply to, and drop the message).
    Measured against the plain path, a lighter wiring for the collecting steps saved 4 %
    of the daemon's own CPU per message (bench/milter_path.py --ab light, docs/BENCHMARKS.md),
    under the 10 % a shortcut must earn: every step takes `call`."""
    call = wiring.call
    libmilter.set_flags(libmilter.ADDHDRS | libmilter.CHGHDRS | libmilter.QUARANTINE)  # CHGHDRS: removing forged headers
    # An exception raised outside our callbacks (pymilter building a callback's arguments)
    # must not answer TEMPFAIL to a step Postfix expects no reply to: libmilter then drops
    # the message and never answers its end of message. Our callbacks catch their own.
    libmilter.set_exception_policy(Milter.CONTINUE)
    sys.excepthook = _excepthook
    libmilter.set_connect_callback(Milter.connect_callback)
    libmilter.set_envfrom_callback(lambda ctx, *b: call(ctx, "envfrom_bytes", *b))
    libmilter.set_envrcpt_callback(lambda ctx, *b: call(ctx, "envrcpt_bytes", *b))
    libmilter.set_header_callback(lambda ctx, f, v: call(ctx, "header_bytes", f, v))
    libmilter.set_eoh_callback(lambda ctx: call(ctx, "eoh"))
    libmilter.set_body_callback(lambda ctx, chunk: call(ctx, "body", chunk))
    libmilter.set_eom_callback(lambda ctx: call(ctx, "eom"))
    libmilter.set_abort_callback(lambda ctx: call(ctx, "abort"))
    libmilter.set_close_callback(wiring.close)
    libmilter.setconn(spec)
    libmilter.settimeout(timeout)
    libmilter.register("privacy-milter", data=lambda ctx: call(ctx, "data"),
                       unknown=lambda ctx, cmd: call(ctx, "unknown", cmd),
                       negotiate=Milter.negotiate_callback)
    if spec.startswith("unix:"):
        path = spec.removeprefix("unix:")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o777 & ~mode)  # the socket is born with the right mode
        try:
            libmilter.opensocket(True)  # True: remove a stale socket left by a crash
        finally:
            os.umask(old)
        os.chmod(path, mode)
    else:
        libmilter.opensocket(True)
    log.info("privacy-milter ready on %s (pid %d)", spec, os.getpid())
    notify_ready()
    libmilter.main()


def _reload_on_signal(runtime: Runtime) -> None:
    """Reload in this thread, off the event loop, at most once per RELOAD_MIN_INTERVAL: a
    storm of signals becomes a few reloads, and mail is served throughout."""
    last = float("-inf")
    while True:
        arrived = signals.wait_for_reload()
        if not arrived:
            continue
        wait = last + RELOAD_MIN_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        merged = arrived - 1
        while more := signals.wait_for_reload(0):
            merged += more
        if merged or wait > 0:
            log.info("policy reload: SIGUSR1 arrived faster than one a second; merged into one reload")
        try:
            runtime.reload("SIGUSR1")
        except Exception:  # never lose the reload thread
            log.exception("policy reload (SIGUSR1) failed")
        last = time.monotonic()


def notify_ready() -> None:
    """Tell systemd (Type=notify) we are serving; harmless without systemd."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    addr = "\0" + target[1:] if target.startswith("@") else target
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", addr)
