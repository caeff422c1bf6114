"""`privacy-milter run`: start-up, signals, the libmilter main loop, and shutdown.

Threads: libmilter runs its own (one per SMTP connection, plus one that sigwaits on
SIGTERM/SIGHUP/SIGINT to stop); the event loop runs in another; a small thread sigwaits
on SIGUSR1 to reload the policy. All four signals are blocked in every thread before any
thread starts, so each is delivered only where it is waited for.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

import Milter

from .adapter import MilterAdapter
from .errors import PolicyError, PrivacyMilterError
from .logsetup import configure_logging
from .loopthread import LoopThread
from .policy import Overrides, load_with
from .runtime import Runtime

log = logging.getLogger("privacy_milter")

# pymilter's C module. Imported by name so type checkers, which see the repo's milter/ folder
# as a namespace package, do not confuse the two.
libmilter: Any = importlib.import_module("milter")

EX_OK, EX_USAGE, EX_UNAVAILABLE, EX_SOFTWARE, EX_CONFIG = 0, 64, 69, 70, 78
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
RELOAD_SIGNAL = signal.SIGUSR1


def run(policy_path: Path, overrides: Overrides) -> int:
    try:
        policy = load_with(policy_path, overrides)
    except PolicyError as exc:
        print(f"privacy-milter: not starting: {exc}", file=sys.stderr)
        return EX_CONFIG
    configure_logging(policy.log)
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS | {RELOAD_SIGNAL})

    loop = LoopThread()
    loop.start()
    try:
        runtime = loop.run(Runtime.start(policy, policy_path=policy_path, overrides=overrides), 60)
    except PrivacyMilterError as exc:
        log.error("not starting: %s", exc)
        loop.stop()
        return EX_UNAVAILABLE

    threading.Thread(target=_reload_on_signal, args=(loop, runtime), name="sigusr1", daemon=True).start()
    runtime.attach(loop)
    Milter.factory = lambda: MilterAdapter(runtime)
    code = EX_OK
    try:
        _serve(runtime.policy.milter.socket, runtime.policy.milter.socket_mode, runtime.policy.milter.timeout)
    except libmilter.error as exc:
        log.error("milter stopped: %s", exc)
        code = EX_UNAVAILABLE
    finally:
        log.info("stopping: writing pending records")
        try:
            loop.run(runtime.stop(), 30)
        except Exception as exc:
            log.error("shutdown: %s", exc)
        loop.stop()
    return code


def _serve(spec: str, mode: int, timeout: int) -> None:
    """Like Milter.runmilter, but sets the unix socket's mode once it exists."""
    libmilter.set_flags(libmilter.ADDHDRS | libmilter.QUARANTINE)
    libmilter.set_connect_callback(Milter.connect_callback)
    libmilter.set_envfrom_callback(lambda ctx, *b: ctx.getpriv().envfrom_bytes(*b))
    libmilter.set_envrcpt_callback(lambda ctx, *b: ctx.getpriv().envrcpt_bytes(*b))
    libmilter.set_header_callback(lambda ctx, f, v: ctx.getpriv().header_bytes(f, v))
    libmilter.set_eoh_callback(lambda ctx: ctx.getpriv().eoh())
    libmilter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    libmilter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    libmilter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    libmilter.set_close_callback(Milter.close_callback)
    libmilter.setconn(spec)
    libmilter.settimeout(timeout)
    libmilter.register("privacy-milter", data=lambda ctx: ctx.getpriv().data(),
                       unknown=lambda ctx, cmd: ctx.getpriv().unknown(cmd),
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


def _reload_on_signal(loop: LoopThread, runtime: Runtime) -> None:
    while True:
        signal.sigwait({RELOAD_SIGNAL})
        loop.call_soon(runtime.reload, "SIGUSR1")


def notify_ready() -> None:
    """Tell systemd (Type=notify) we are serving; harmless without systemd."""
    target = os.environ.get("NOTIFY_SOCKET")
    if not target:
        return
    addr = "\0" + target[1:] if target.startswith("@") else target
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", addr)
