"""MTA-STS lookup, cache, expiry and refresh with a fake clock, DNS and fetcher."""

from __future__ import annotations

from typing import Any

import pytest

from privacy_milter.tlspolicy.cache import CacheEntry, MemoryPolicyCache, PolicyCache
from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import LookupTempError, Mode, MtaStsError
from privacy_milter.tlspolicy.mtasts import MtaStsResolver

POLICY = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n"
POLICY2 = "version: STSv1\nmode: enforce\nmx: mx2.example.com\nmax_age: 86400\n"
CONFIG = TlsPolicyConfig(mtasts_refresh_interval=0, mtasts_refresh_margin=3600, mtasts_stale_grace=7200,
                         mtasts_negative_ttl=60)


def make(fake_dns: Any, fake_fetcher: Any, clock: Any, cache: PolicyCache | None = None,
         config: TlsPolicyConfig = CONFIG) -> tuple[MtaStsResolver, PolicyCache]:
    cache = cache or MemoryPolicyCache(10)
    return MtaStsResolver(config, fake_dns, fake_fetcher, cache, clock=clock), cache


def publish(fake_dns: Any, fake_fetcher: Any, policy_id: str = "id1", text: str = POLICY) -> None:
    fake_dns.set("_mta-sts.example.com", "TXT", f'"v=STSv1; id={policy_id}"')
    fake_fetcher.texts["example.com"] = text


async def test_tls_fetch_then_cache_hit(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, cache = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    policy = await resolver.get("example.com")
    assert policy is not None and policy.mode is Mode.ENFORCE
    assert await resolver.get("example.com") == policy
    assert fake_fetcher.calls == ["example.com"]
    entry = await cache.get("example.com")
    assert entry is not None and entry.policy_id == "id1" and entry.fetched_at == clock.now


async def test_tls_no_txt_is_no_policy_and_negative_cached(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, _ = make(fake_dns, fake_fetcher, clock)
    assert await resolver.get("example.com") is None
    assert await resolver.get("example.com") is None
    assert fake_dns.asked.count(("_mta-sts.example.com", "TXT")) == 1
    clock.advance(61)
    assert await resolver.get("example.com") is None
    assert fake_dns.asked.count(("_mta-sts.example.com", "TXT")) == 2


async def test_tls_fetch_failure_without_cache_is_no_policy(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, _ = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    fake_fetcher.texts["example.com"] = MtaStsError("HTTP status 404")
    assert await resolver.get("example.com") is None
    fake_dns.fail("_mta-sts.other.example", "TXT")
    assert await resolver.get("other.example") is None


async def test_tls_expired_enforce_policy_that_cannot_be_refreshed_is_temp_then_dropped(
        fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, cache = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    await resolver.get("example.com")
    clock.advance(86400 + 1)
    fake_fetcher.texts["example.com"] = MtaStsError("connection refused")
    with pytest.raises(LookupTempError):
        await resolver.get("example.com")
    clock.advance(7200)  # past the grace period: RFC 8461 §5.1, deliver as if no policy
    assert await resolver.get("example.com") is None
    assert await cache.get("example.com") is None


async def test_tls_refresh_keeps_last_good_policy(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, cache = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    first = await resolver.get("example.com")
    publish(fake_dns, fake_fetcher, "id2", "version: STSv1\nmode: bogus\n")  # new id, broken policy
    assert await resolver.refresh_once() == 0
    assert await resolver.get("example.com") == first
    fake_fetcher.texts["example.com"] = MtaStsError("timeout")
    assert await resolver.refresh_once() == 0
    entry = await cache.get("example.com")
    assert entry is not None and entry.policy_id == "id1"


async def test_tls_refresh_picks_up_a_new_id(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, _ = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    await resolver.get("example.com")
    assert await resolver.refresh_once() == 0  # same id, far from expiry: nothing fetched
    assert fake_fetcher.calls == ["example.com"]
    publish(fake_dns, fake_fetcher, "id2", POLICY2)
    assert await resolver.refresh_once() == 1
    policy = await resolver.get("example.com")
    assert policy is not None and policy.mx == ("mx2.example.com",)


async def test_tls_refresh_before_expiry_with_the_same_id(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, cache = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    await resolver.get("example.com")
    clock.advance(86400 - 1800)  # inside the refresh margin
    assert await resolver.refresh_once() == 1
    entry = await cache.get("example.com")
    assert entry is not None and entry.fetched_at == clock.now


async def test_tls_refresh_survives_dns_failure_and_vanished_txt(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, cache = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    await resolver.get("example.com")
    fake_dns.fail("_mta-sts.example.com", "TXT")
    assert await resolver.refresh_once() == 0
    fake_dns.table.pop(("_mta-sts.example.com", "TXT"))
    assert await resolver.refresh_once() == 0
    assert await cache.get("example.com") is not None  # still valid: kept until max_age


class BrokenCache(PolicyCache):
    async def get(self, domain: str) -> CacheEntry | None:
        raise OSError("store down")

    async def set(self, domain: str, entry: CacheEntry) -> None:
        raise OSError("store down")

    async def delete(self, domain: str) -> None:
        raise OSError("store down")

    async def scan(self, after: str | None, limit: int) -> list[tuple[str, CacheEntry]]:
        raise OSError("store down")


async def test_tls_cache_failures_are_survived(fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, _ = make(fake_dns, fake_fetcher, clock, cache=BrokenCache())
    publish(fake_dns, fake_fetcher)
    policy = await resolver.get("example.com")
    assert policy is not None and policy.mx == ("mx.example.com",)
    assert await resolver.refresh_once() == 0


async def test_tls_memory_cache_is_bounded_lru() -> None:
    cache = MemoryPolicyCache(2)
    from privacy_milter.tlspolicy.model import MtaStsPolicy
    entry = CacheEntry(0.0, "id", MtaStsPolicy(Mode.NONE, (), 1))
    await cache.set("a", entry)
    await cache.set("b", entry)
    await cache.get("a")
    await cache.set("c", entry)
    assert [k for k, _ in await cache.scan(None, 10)] == ["a", "c"]
    assert [k for k, _ in await cache.scan("a", 10)] == ["c"]


async def test_tls_expired_policy_refetch_is_not_retried_on_every_lookup(
        fake_dns: Any, fake_fetcher: Any, clock: Any) -> None:
    resolver, _ = make(fake_dns, fake_fetcher, clock)
    publish(fake_dns, fake_fetcher)
    await resolver.get("example.com")
    clock.advance(86401)
    fake_fetcher.texts["example.com"] = MtaStsError("connection refused")
    for _ in range(3):
        with pytest.raises(LookupTempError):
            await resolver.get("example.com")
    assert fake_fetcher.calls == ["example.com", "example.com"]  # one refetch try, then backoff
    clock.advance(61)
    fake_fetcher.texts["example.com"] = POLICY2
    policy = await resolver.get("example.com")
    assert policy is not None and policy.mx == ("mx2.example.com",)
