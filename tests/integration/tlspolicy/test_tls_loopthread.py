"""The service the way the daemon runs it: on the one asyncio loop thread, driven from
other threads (libmilter's) with run(coro, timeout)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from privacy_milter.loopthread import LoopThread
from privacy_milter.tlspolicy import TlsClass, TlsPolicyConfig, TlsPolicyService


def test_tls_service_on_the_daemon_loop_thread(tls_config: Callable[..., TlsPolicyConfig], dane_domain: Any) -> None:
    dane_domain("dane.test")
    loop = LoopThread("tlspolicy-test-loop")
    loop.start()
    try:
        service = TlsPolicyService(tls_config(mtasts_refresh_interval=60, probe_enabled=False))
        loop.run(service.start(), timeout=10)
        assert str(loop.run(service.lookup("dane.test"), timeout=10)) == "OK dane-only"
        assert loop.run(service.classify("dane.test"), timeout=10) is TlsClass.AUTHENTICATED
        loop.call_soon(service.note_delivery, "learned.test", True)
        assert loop.run(service.classify("learned.test"), timeout=10) is TlsClass.TLS
        loop.run(service.stop(), timeout=10)
    finally:
        loop.stop()
