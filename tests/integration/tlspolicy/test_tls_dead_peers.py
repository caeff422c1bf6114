"""Dead or silent DNS and MTA-STS servers (issue 13): a resolver that takes queries and never
answers (UDP and TCP), one that refuses, an MTA-STS host that accepts and never speaks TLS,
one that refuses. The TLS policy lookup and the tls filter's classification still answer,
with the safe answer (no policy: Postfix's own level; classification unknown), inside the
client's bound (CLIENT_TIMEOUT, several times dns_timeout + mtasts_fetch_timeout); nothing
here measures speed."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from privacy_milter.tlspolicy import TlsClass
from privacy_milter.tlspolicy.service import TlsPolicyService
from tests.harness.deadpeer import SilentServer, refused_port
from tests.harness.dnsstub import DnsStub
from tests.harness.https_server import MtaStsHttpsServer

CLIENT_TIMEOUT = 10.0  # as conftest's client: a bound, not a measurement


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    with SilentServer(udp=True) as s:
        yield s


async def lookup_and_classify(service: TlsPolicyService, connect, domain: str) -> tuple[str, TlsClass]:
    await service.start()
    try:
        client = await connect(service.config.socket_path)
        async with asyncio.timeout(CLIENT_TIMEOUT):
            answer = await client.ask(domain)
            klass = await service.classify(domain)
    finally:
        await service.stop()
    return answer, klass


@pytest.mark.parametrize("dns", ["silent", "refused"])
async def test_dead_resolver_means_no_policy_and_unknown_class(tls_config, socketmap_client, mtasts_web: MtaStsHttpsServer,
                                                              silent: SilentServer, dns: str) -> None:
    port = silent.port if dns == "silent" else refused_port()
    service = TlsPolicyService(tls_config(nameserver_port=port, dns_timeout=1.0),
                               ssl_context=mtasts_web.client_context(), https_hosts=mtasts_web.host_map())
    answer, klass = await lookup_and_classify(service, socketmap_client, "sts.test")
    assert answer == "NOTFOUND " or answer.startswith("TEMP "), answer
    assert klass is not TlsClass.AUTHENTICATED and klass is not TlsClass.PLAIN, klass


@pytest.mark.parametrize("web", ["silent", "refused"])
async def test_dead_mta_sts_host_means_no_policy(tls_config, socketmap_client, mtasts_domain, dns_stub: DnsStub,
                                                 mtasts_web: MtaStsHttpsServer, silent: SilentServer, web: str) -> None:
    mtasts_domain("sts.test")  # DNS says MTA-STS; its web host is dead
    port = silent.port if web == "silent" else refused_port()
    service = TlsPolicyService(tls_config(mtasts_fetch_timeout=1.0), ssl_context=mtasts_web.client_context(),
                               https_hosts={"mta-sts.sts.test": ("127.0.0.1", port)})
    answer, klass = await lookup_and_classify(service, socketmap_client, "sts.test")
    assert answer == "NOTFOUND ", answer  # no policy fetched: never "secure" on a guess
    assert klass is not TlsClass.AUTHENTICATED, klass
    if web == "silent":
        assert silent.accepted >= 1, "the fetch reached the silent host and was cut by its time-out"
