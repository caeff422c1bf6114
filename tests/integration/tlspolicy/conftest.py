"""Real servers on loopback for the tlspolicy integration tests: the DNS stub, the
MTA-STS HTTPS server, the service on a real unix socket, and a netstring client."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from privacy_milter.tlspolicy import netstring
from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.service import TlsPolicyService
from tests.harness.dnsstub import DnsStub
from tests.harness.https_server import MtaStsHttpsServer

#: Every domain the HTTPS server has a certificate for.
STS_DOMAINS = ("sts.test", "both.test", "refresh.test", "knobs.test", "slow.test", "expired.test")
CLIENT_TIMEOUT = 10.0


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short directory for unix sockets (sun_path is limited to 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="tlsp-", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def dns_stub() -> Iterator[DnsStub]:
    with DnsStub("127.0.0.1", 0) as stub:
        yield stub


@pytest.fixture
def mtasts_web() -> Iterator[MtaStsHttpsServer]:
    with MtaStsHttpsServer(STS_DOMAINS) as web:
        yield web


@pytest.fixture
def tls_config(short_dir: Path, dns_stub: DnsStub) -> Callable[..., TlsPolicyConfig]:
    def make(**overrides: Any) -> TlsPolicyConfig:
        settings: dict[str, Any] = dict(
            socket_path=str(short_dir / "tlspolicy.sock"), socket_mode=0o660, nameserver="127.0.0.1",
            nameserver_port=dns_stub.port, dns_timeout=2.0, mtasts_fetch_timeout=2.0, request_timeout=5.0,
            mtasts_refresh_interval=0, probe_timeout=2.0)
        settings.update(overrides)
        return TlsPolicyConfig(**settings)
    return make


@pytest.fixture
async def tls_service(tls_config: Callable[..., TlsPolicyConfig], mtasts_web: MtaStsHttpsServer,
                      ) -> AsyncIterator[Callable[..., Awaitable[TlsPolicyService]]]:
    """Factory: `await tls_service(**config_overrides, clock=...)`, started and serving."""
    started: list[TlsPolicyService] = []

    async def make(clock: Callable[[], float] | None = None, **overrides: Any) -> TlsPolicyService:
        extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
        service = TlsPolicyService(tls_config(**overrides), ssl_context=mtasts_web.client_context(),
                                   https_hosts=mtasts_web.host_map(), **extra)
        await service.start()
        started.append(service)
        return service

    yield make
    for service in started:
        await service.stop()


class SocketmapClient:
    """A netstring client over a real unix socket, like Postfix's smtp(8)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = netstring.NetstringDecoder()
        self.pending: list[bytes] = []

    @classmethod
    async def connect(cls, path: str) -> SocketmapClient:
        reader, writer = await asyncio.wait_for(asyncio.open_unix_connection(path), CLIENT_TIMEOUT)
        return cls(reader, writer)

    async def send_raw(self, data: bytes, piece: int | None = None) -> None:
        step = piece or len(data) or 1
        for i in range(0, len(data), step):
            self.writer.write(data[i:i + step])
            await self.writer.drain()
            if piece:
                await asyncio.sleep(0)

    async def read(self, count: int) -> list[str]:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            while len(self.pending) < count:
                data = await self.reader.read(4096)
                if not data:
                    raise ConnectionError("server closed the connection")
                self.pending += self.decoder.feed(data)
        out, self.pending = self.pending[:count], self.pending[count:]
        return [p.decode() for p in out]

    async def ask(self, key: str, name: str = "tlspolicy") -> str:
        await self.send_raw(netstring.encode(f"{name} {key}".encode()))
        return (await self.read(1))[0]

    async def closed_by_server(self) -> bool:
        async with asyncio.timeout(CLIENT_TIMEOUT):
            for _ in range(100):
                if not await self.reader.read(4096):
                    return True
        return False

    async def close(self) -> None:
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (OSError, TimeoutError):
            pass


@pytest.fixture
async def socketmap_client() -> AsyncIterator[Callable[[str], Awaitable[SocketmapClient]]]:
    clients: list[SocketmapClient] = []

    async def connect(path: str) -> SocketmapClient:
        client = await SocketmapClient.connect(path)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        await client.close()


def free_port_on(hosts: tuple[str, ...]) -> int:
    """One TCP port that is free on every given loopback address."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        try:
            for host in hosts[1:]:
                with socket.socket() as s:
                    s.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no port free on all of " + ", ".join(hosts))


def secure_dane_domain(stub: DnsStub, domain: str, hosts: tuple[str, ...] = ("mx1",), address: str = "127.0.0.9") -> None:
    """A DNSSEC-secure domain whose MX hosts all publish a DANE-EE TLSA record."""
    stub.add(domain, "MX", *(f"{10 * (i + 1)} {h}.{domain}." for i, h in enumerate(hosts)))
    for h in hosts:
        stub.add(f"{h}.{domain}", "A", address)
        stub.add(f"_25._tcp.{h}.{domain}", "TLSA", "3 1 1 " + "5a" * 32)
    stub.secure(domain)


def sts_domain(stub: DnsStub, web: MtaStsHttpsServer, domain: str, policy_id: str = "20260101",
               mx: tuple[str, ...] = ("mx1",), mode: str = "enforce", max_age: int = 86400) -> None:
    """An unsigned domain publishing MTA-STS."""
    stub.add(domain, "MX", *(f"10 {h}.{domain}." for h in mx))
    stub.add(f"_mta-sts.{domain}", "TXT", f'"v=STSv1; id={policy_id};"')
    web.set_policy(domain, mode=mode, mx=[f"{h}.{domain}" for h in mx], max_age=max_age)


@pytest.fixture
def dane_domain(dns_stub: DnsStub) -> Callable[..., None]:
    """`dane_domain("example.test", hosts=("mx1", "mx2"))`: see secure_dane_domain."""
    def make(domain: str, hosts: tuple[str, ...] = ("mx1",), address: str = "127.0.0.9") -> None:
        secure_dane_domain(dns_stub, domain, hosts, address)
    return make


@pytest.fixture
def mtasts_domain(dns_stub: DnsStub, mtasts_web: MtaStsHttpsServer) -> Callable[..., None]:
    """`mtasts_domain("sts.test", policy_id=..., mode=..., max_age=...)`: see sts_domain."""
    def make(domain: str, **kw: Any) -> None:
        sts_domain(dns_stub, mtasts_web, domain, **kw)
    return make


@pytest.fixture
def port_free_on() -> Callable[[tuple[str, ...]], int]:
    """`port_free_on(("127.0.0.2", "127.0.0.3"))`: one TCP port free on all of them."""
    return free_port_on
