"""The whole service against the DNS stub and the HTTPS server, asked over its unix socket."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from privacy_milter.tlspolicy.model import Level
from privacy_milter.tlspolicy.service import TlsPolicyService
from tests.harness.dnsstub import DnsStub
from tests.harness.https_server import MtaStsHttpsServer

Make = Callable[..., Awaitable[TlsPolicyService]]
Connect = Callable[[str], Awaitable[Any]]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def ask(service: TlsPolicyService, connect: Connect, key: str) -> str:
    client = await connect(service.config.socket_path)
    return str(await client.ask(key))


async def test_tls_dane_domain_is_dane_only(tls_service: Make, socketmap_client: Connect, dane_domain: Any,
                                            dns_stub: DnsStub) -> None:
    dane_domain("dane.test", hosts=("mx1", "mx2"))
    service = await tls_service()
    assert await ask(service, socketmap_client, "dane.test") == "OK dane-only"
    assert service.policy_for("dane.test") == "dane"  # what the delivery-log reader records
    assert service.policy_for("never-asked.test") == "unknown"
    # the validating resolver was asked for DNSSEC status: AD and DO on every query
    assert dns_stub.queries and all(ad and do for _, _, ad, do in dns_stub.queries)


async def test_tls_insecure_zone_gets_no_dane(tls_service: Make, socketmap_client: Connect, dns_stub: DnsStub) -> None:
    dns_stub.add("plain.test", "MX", "10 mx.plain.test.").add("mx.plain.test", "A", "127.0.0.9")
    dns_stub.add("_25._tcp.mx.plain.test", "TLSA", "3 1 1 " + "5a" * 32)  # TLSA in an unsigned zone
    service = await tls_service()
    assert await ask(service, socketmap_client, "plain.test") == "NOTFOUND "
    assert service.policy_for("plain.test") == "opportunistic"


async def test_tls_partial_dane_is_dane(tls_service: Make, socketmap_client: Connect, dane_domain: Any,
                                        dns_stub: DnsStub) -> None:
    dane_domain("half.test", hosts=("mx1", "mx2"))
    dns_stub.remove("_25._tcp.mx2.half.test")
    service = await tls_service()
    assert await ask(service, socketmap_client, "half.test") == "OK dane"


async def test_tls_mta_sts_enforce_is_secure_match(tls_service: Make, socketmap_client: Connect,
                                                   mtasts_domain: Any, mtasts_web: MtaStsHttpsServer) -> None:
    mtasts_domain("sts.test", mx=("mx1", "mx2"))
    mtasts_web.set_policy("sts.test", mx=["mx1.sts.test", "*.backup.sts.test"])
    service = await tls_service()
    assert await ask(service, socketmap_client, "sts.test") == "OK secure match=mx1.sts.test:.backup.sts.test"
    assert await ask(service, socketmap_client, "sts.test") == "OK secure match=mx1.sts.test:.backup.sts.test"
    assert mtasts_web.hits["mta-sts.sts.test"] == 1  # the second answer came from the cache


@pytest.mark.parametrize("mode", ["testing", "none"])
async def test_tls_mta_sts_testing_and_none_give_no_policy(tls_service: Make, socketmap_client: Connect,
                                                           mtasts_domain: Any, mode: str) -> None:
    mtasts_domain("sts.test", mode=mode)
    service = await tls_service()
    assert await ask(service, socketmap_client, "sts.test") == "NOTFOUND "


async def test_tls_dane_wins_over_mta_sts(tls_service: Make, socketmap_client: Connect, dane_domain: Any,
                                          mtasts_domain: Any, mtasts_web: MtaStsHttpsServer) -> None:
    mtasts_domain("both.test")
    dane_domain("both.test")
    service = await tls_service()
    assert await ask(service, socketmap_client, "both.test") == "OK dane-only"
    assert mtasts_web.hits["mta-sts.both.test"] == 0


@pytest.mark.parametrize("knob", ["redirect", "content_type", "oversize", "404", "timeout", "bad_policy"])
async def test_tls_broken_policy_servers_mean_no_policy(tls_service: Make, socketmap_client: Connect,
                                                        mtasts_domain: Any, mtasts_web: MtaStsHttpsServer,
                                                        knob: str) -> None:
    mtasts_domain("knobs.test")
    body = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.knobs.test\r\nmax_age: 86400\r\n"
    if knob == "redirect":
        mtasts_web.set_raw("knobs.test", body, status=302, location="https://mta-sts.sts.test/.well-known/mta-sts.txt")
    elif knob == "content_type":
        mtasts_web.set_raw("knobs.test", body, content_type="text/html")
    elif knob == "oversize":
        mtasts_web.set_oversize("knobs.test", 65537)
    elif knob == "404":
        mtasts_web.clear("knobs.test")
    elif knob == "timeout":
        mtasts_web.set_raw("knobs.test", body, delay=1.0)
    else:
        mtasts_web.set_raw("knobs.test", b"version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\n")
    service = await tls_service(mtasts_fetch_timeout=0.5)
    assert await ask(service, socketmap_client, "knobs.test") == "NOTFOUND "
    if knob == "timeout":
        # let the slow server finish, so the abandoned TLS connection closes before the loop does
        await asyncio.sleep(1.0)


async def test_tls_untrusted_certificate_means_no_policy(tls_config: Any, socketmap_client: Connect,
                                                         mtasts_domain: Any, mtasts_web: MtaStsHttpsServer) -> None:
    mtasts_domain("sts.test")
    service = TlsPolicyService(tls_config(), https_hosts=mtasts_web.host_map())  # system CAs only
    await service.start()
    try:
        assert await ask(service, socketmap_client, "sts.test") == "NOTFOUND "
    finally:
        await service.stop()


async def test_tls_refresh_failure_keeps_last_good_policy(tls_service: Make, socketmap_client: Connect,
                                                          mtasts_domain: Any, mtasts_web: MtaStsHttpsServer,
                                                          dns_stub: DnsStub) -> None:
    mtasts_domain("refresh.test", policy_id="one")
    service = await tls_service()
    assert await ask(service, socketmap_client, "refresh.test") == "OK secure match=mx1.refresh.test"
    dns_stub.remove("_mta-sts.refresh.test", "TXT")
    dns_stub.add("_mta-sts.refresh.test", "TXT", '"v=STSv1; id=two;"')
    mtasts_web.clear("refresh.test")  # the new policy cannot be fetched
    assert await service.mtasts.refresh_once() == 0
    assert await ask(service, socketmap_client, "refresh.test") == "OK secure match=mx1.refresh.test"
    mtasts_web.set_policy("refresh.test", mx=["mx9.refresh.test"])
    assert await service.mtasts.refresh_once() == 1
    assert await ask(service, socketmap_client, "refresh.test") == "OK secure match=mx9.refresh.test"


async def test_tls_background_refresher_runs(tls_service: Make, mtasts_domain: Any, mtasts_web: MtaStsHttpsServer,
                                             dns_stub: DnsStub) -> None:
    mtasts_domain("refresh.test", policy_id="one")
    service = await tls_service(mtasts_refresh_interval=0.05)
    assert (await service.lookup("refresh.test")).data == "secure match=mx1.refresh.test"
    dns_stub.remove("_mta-sts.refresh.test", "TXT")
    dns_stub.add("_mta-sts.refresh.test", "TXT", '"v=STSv1; id=two;"')
    mtasts_web.set_policy("refresh.test", mx=["mx2.refresh.test"])
    for _ in range(100):
        if (await service.lookup("refresh.test")).data.endswith("mx2.refresh.test"):
            break
        await asyncio.sleep(0.05)
    assert (await service.lookup("refresh.test")).data == "secure match=mx2.refresh.test"


async def test_tls_expired_policy_that_cannot_be_refreshed_is_temp(tls_service: Make, socketmap_client: Connect,
                                                                   mtasts_domain: Any,
                                                                   mtasts_web: MtaStsHttpsServer) -> None:
    clock = Clock()
    mtasts_domain("expired.test", max_age=3600)
    service = await tls_service(clock=clock)
    assert await ask(service, socketmap_client, "expired.test") == "OK secure match=mx1.expired.test"
    clock.now += 3601
    mtasts_web.set_raw("expired.test", b"down", status=503)
    assert (await ask(service, socketmap_client, "expired.test")).startswith("TEMP ")


async def test_tls_dane_domain_turning_bogus_is_temp(tls_service: Make, socketmap_client: Connect,
                                                     dane_domain: Any, dns_stub: DnsStub) -> None:
    dane_domain("dane.test")
    service = await tls_service()
    assert await ask(service, socketmap_client, "dane.test") == "OK dane-only"
    dns_stub.servfail("dane.test", "MX")  # bogus: the validating resolver answers SERVFAIL
    assert (await ask(service, socketmap_client, "dane.test")).startswith("TEMP ")


async def test_tls_tlsa_failure_in_a_signed_zone_is_temp(tls_service: Make, socketmap_client: Connect,
                                                         dane_domain: Any, dns_stub: DnsStub) -> None:
    dane_domain("dane.test")
    dns_stub.servfail("_25._tcp.mx1.dane.test", "TLSA")
    service = await tls_service()
    assert (await ask(service, socketmap_client, "dane.test")).startswith("TEMP ")


async def test_tls_dns_timeout_for_an_unknown_domain_is_notfound(tls_service: Make, socketmap_client: Connect,
                                                                 dns_stub: DnsStub) -> None:
    dns_stub.drop("silent.test")
    service = await tls_service(dns_timeout=0.5)
    assert await ask(service, socketmap_client, "silent.test") == "NOTFOUND "


async def test_tls_pins_next_hops_and_map_name(tls_service: Make, socketmap_client: Connect, dane_domain: Any,
                                               dns_stub: DnsStub) -> None:
    dane_domain("relay.test", hosts=("smtp",))
    service = await tls_service(pins={"bank.test": "secure", ".corp.test": Level.ENCRYPT,
                                      "[10.0.0.1]:25": "encrypt"})
    client = await socketmap_client(service.config.socket_path)
    assert await client.ask("bank.test") == "OK secure"
    assert await client.ask("mail.corp.test") == "OK encrypt"
    assert await client.ask(".corp.test") == "OK encrypt"
    assert await client.ask("[10.0.0.1]:25") == "OK encrypt"
    assert await client.ask("[smtp.relay.test]:25") == "OK dane-only"
    assert await client.ask("nothing.test") == "NOTFOUND "
    assert (await client.ask("bank.test", name="wrongname")).startswith("PERM ")


async def test_tls_service_lookup_without_socket(tls_config: Any, dane_domain: Any) -> None:
    dane_domain("dane.test")
    service = TlsPolicyService(tls_config())
    await service.start(serve=False)
    try:
        assert (await service.lookup("dane.test")).encode() == b"OK dane-only"
        decision = await service.decide("dane.test")
        assert decision.source.value == "dane"
    finally:
        await service.stop()


async def test_tls_ca_file_from_config(tls_config: Any, short_dir: Any, mtasts_domain: Any,
                                       mtasts_web: MtaStsHttpsServer) -> None:
    mtasts_domain("sts.test")
    ca_file = short_dir / "ca.pem"
    mtasts_web.ca.cert_pem.write_to_path(str(ca_file))
    service = TlsPolicyService(tls_config(mtasts_ca_file=str(ca_file)), https_hosts=mtasts_web.host_map())
    await service.start(serve=False)
    try:
        assert str(await service.lookup("sts.test")) == "OK secure match=mx1.sts.test"
    finally:
        await service.stop()


async def test_tls_broken_cache_setup_falls_back_to_memory(tls_config: Any, mtasts_domain: Any,
                                                           mtasts_web: MtaStsHttpsServer) -> None:
    from privacy_milter.tlspolicy.cache import MemoryPolicyCache

    class Broken(MemoryPolicyCache):
        async def setup(self) -> None:
            raise OSError("database is locked")

    mtasts_domain("sts.test")
    service = TlsPolicyService(tls_config(), cache=Broken(), ssl_context=mtasts_web.client_context(),
                               https_hosts=mtasts_web.host_map())
    await service.start(serve=False)
    try:
        assert not isinstance(service.cache, Broken)
        assert str(await service.lookup("sts.test")) == "OK secure match=mx1.sts.test"
        assert await service.cache.get("sts.test") is not None
    finally:
        await service.stop()


async def test_tls_start_failure_leaves_nothing_running(tls_config: Any, short_dir: Any) -> None:
    blocker = short_dir / "not-a-socket"
    blocker.write_text("x")
    service = TlsPolicyService(tls_config(socket_path=str(blocker), mtasts_refresh_interval=60))
    with pytest.raises(FileExistsError):
        await service.start()
    assert service.mtasts._refresher is None
    await service.stop()  # harmless after a failed start
