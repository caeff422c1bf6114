"""classify() against real SMTP destinations on loopback (aiosmtpd): with STARTTLS,
without it, nothing listening, and a listener that never greets."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller

from privacy_milter.tlspolicy.model import TlsClass
from privacy_milter.tlspolicy.service import TlsPolicyService
from tests.harness.dnsstub import DnsStub

TLS_ADDR, PLAIN_ADDR, NOBODY_ADDR, MUTE_ADDR = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"

Make = Callable[..., Awaitable[TlsPolicyService]]


class Recorder:
    """An aiosmtpd handler that only notes which mail commands ever arrived."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]) -> list[str]:
        self.commands.append("EHLO")
        return responses

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        self.commands.append("MAIL")
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.commands.append("DATA")
        return "250 OK"


class Mute:
    """Accepts TCP connections and never says a word (a tarpit)."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_server((host, port))
        self.sock.settimeout(0.2)
        self.accepted: list[socket.socket] = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for _ in range(1500):  # at most 5 minutes of 0.2 s accept timeouts
            if not self.running:
                return
            try:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)
            except OSError:
                continue

    def close(self) -> None:
        self.running = False
        self.thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def destinations(dns_stub: DnsStub, port_free_on: Callable[[tuple[str, ...]], int]) -> Iterator[dict[str, Any]]:
    port = port_free_on((TLS_ADDR, PLAIN_ADDR, NOBODY_ADDR, MUTE_ADDR))
    ca = trustme.CA()
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("mx.tls.test").configure_cert(server_ctx)
    tls_handler, plain_handler = Recorder(), Recorder()
    tls = Controller(tls_handler, hostname=TLS_ADDR, port=port, tls_context=server_ctx, ready_timeout=10)
    plain = Controller(plain_handler, hostname=PLAIN_ADDR, port=port, ready_timeout=10)
    tls.start()
    plain.start()
    mute = Mute(MUTE_ADDR, port)
    for name, addr in (("tls", TLS_ADDR), ("plain", PLAIN_ADDR), ("nobody", NOBODY_ADDR), ("mute", MUTE_ADDR)):
        dns_stub.add(f"{name}.test", "MX", f"10 mx.{name}.test.").add(f"mx.{name}.test", "A", addr)
    # a domain whose primary MX is plain and backup offers TLS: mail may go plain
    dns_stub.add("mixed.test", "MX", "10 mx.tls.test.", "20 mx.plain.test.")
    try:
        yield {"port": port, "tls": tls_handler, "plain": plain_handler}
    finally:
        tls.stop()
        plain.stop()
        mute.close()


async def test_tls_probe_classes(tls_service: Make, destinations: dict[str, Any]) -> None:
    service = await tls_service(probe_port=destinations["port"], probe_timeout=1.0)
    assert await service.classify("tls.test") is TlsClass.TLS
    assert await service.classify("plain.test") is TlsClass.PLAIN
    assert await service.classify("nobody.test") is TlsClass.UNKNOWN
    assert await service.classify("mute.test") is TlsClass.UNKNOWN
    assert await service.classify("mixed.test") is TlsClass.PLAIN
    assert await service.classify("nxdomain.test") is TlsClass.UNKNOWN
    for handler in (destinations["tls"], destinations["plain"]):
        assert handler.commands and set(handler.commands) == {"EHLO"}  # never MAIL or DATA


async def test_tls_probe_results_are_cached(tls_service: Make, destinations: dict[str, Any]) -> None:
    service = await tls_service(probe_port=destinations["port"], probe_timeout=1.0)
    for _ in range(5):
        assert await service.classify("tls.test") is TlsClass.TLS
    assert destinations["tls"].commands == ["EHLO"]


async def test_tls_authenticated_domains_are_not_probed(tls_service: Make, destinations: dict[str, Any],
                                                        dane_domain: Any, mtasts_domain: Any) -> None:
    dane_domain("dane.test", address=TLS_ADDR)
    mtasts_domain("sts.test")
    service = await tls_service(probe_port=destinations["port"], pins={"pinned.test": "encrypt"})
    assert await service.classify("dane.test") is TlsClass.AUTHENTICATED
    assert await service.classify("sts.test") is TlsClass.AUTHENTICATED
    assert await service.classify("pinned.test") is TlsClass.TLS
    assert destinations["tls"].commands == []


async def test_tls_learned_delivery_beats_probe(tls_service: Make, destinations: dict[str, Any]) -> None:
    service = await tls_service(probe_port=destinations["port"])
    service.note_delivery("plain.test", tls=True)
    assert await service.classify("plain.test") is TlsClass.TLS
    assert destinations["plain"].commands == []
