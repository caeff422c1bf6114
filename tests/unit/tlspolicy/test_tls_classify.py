"""classify(): policy first, then observations (deliveries, probes), probes rate-limited."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from privacy_milter.tlspolicy.classify import Classifier
from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import Decision, Level, LookupTempError, Source, TlsClass


@dataclass
class FakeResolver:
    decisions: dict[str, Decision | Exception] = field(default_factory=dict)

    async def decide(self, key: str) -> Decision:
        found = self.decisions.get(key, Decision(Source.NONE))
        if isinstance(found, Exception):
            raise found
        return found


@dataclass
class FakeProber:
    results: dict[str, TlsClass] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    delay: float = 0.0

    async def probe_domain(self, domain: str) -> TlsClass:
        self.calls.append(domain)
        await asyncio.sleep(self.delay)
        return self.results.get(domain, TlsClass.UNKNOWN)


def make(clock: Any, **kw: Any) -> tuple[Classifier, FakeResolver, FakeProber]:
    config = TlsPolicyConfig(probe_cache_ttl=1000, probe_min_interval=100, pins={}, **kw)
    resolver, prober = FakeResolver(), FakeProber()
    return Classifier(config, resolver, prober, clock=clock), resolver, prober  # type: ignore[arg-type]


async def test_tls_authenticated_policies(clock: Any) -> None:
    classifier, resolver, prober = make(clock)
    resolver.decisions["dane.example"] = Decision(Source.DANE, Level.DANE_ONLY)
    resolver.decisions["sts.example"] = Decision(Source.MTA_STS, Level.SECURE, match="mx.sts.example")
    resolver.decisions["pin.example"] = Decision(Source.PIN, Level.SECURE)
    resolver.decisions["enc.example"] = Decision(Source.PIN, Level.ENCRYPT)
    for domain in ("dane.example", "sts.example", "pin.example"):
        assert await classifier.classify(domain) is TlsClass.AUTHENTICATED
    assert await classifier.classify("enc.example") is TlsClass.TLS
    assert prober.calls == []


async def test_tls_probe_result_is_cached_and_expires(clock: Any) -> None:
    classifier, _, prober = make(clock)
    prober.results["plain.example"] = TlsClass.PLAIN
    assert await classifier.classify("plain.example") is TlsClass.PLAIN
    assert await classifier.classify("Plain.Example.") is TlsClass.PLAIN
    assert prober.calls == ["plain.example"]
    clock.advance(1001)
    prober.results["plain.example"] = TlsClass.TLS
    assert await classifier.classify("plain.example") is TlsClass.TLS
    assert len(prober.calls) == 2


async def test_tls_failed_probes_are_rate_limited(clock: Any) -> None:
    classifier, _, prober = make(clock)
    assert await classifier.classify("down.example") is TlsClass.UNKNOWN
    assert await classifier.classify("down.example") is TlsClass.UNKNOWN
    assert prober.calls == ["down.example"]
    clock.advance(101)
    assert await classifier.classify("down.example") is TlsClass.UNKNOWN
    assert prober.calls == ["down.example", "down.example"]


async def test_tls_concurrent_classify_shares_one_probe(clock: Any) -> None:
    classifier, _, prober = make(clock)
    prober.results["tls.example"] = TlsClass.TLS
    prober.delay = 0.05
    results = await asyncio.gather(*(classifier.classify("tls.example") for _ in range(10)))
    assert set(results) == {TlsClass.TLS}
    assert prober.calls == ["tls.example"]


async def test_tls_learned_deliveries_win_until_they_age(clock: Any) -> None:
    classifier, _, prober = make(clock)
    classifier.note_delivery("learned.example", tls=True)
    assert await classifier.classify("learned.example") is TlsClass.TLS
    classifier.note_delivery("learned.example", tls=False)
    assert await classifier.classify("learned.example") is TlsClass.PLAIN
    assert prober.calls == []


async def test_tls_policy_lookup_errors_fall_back_to_observations(clock: Any) -> None:
    classifier, resolver, _ = make(clock)
    resolver.decisions["broken.example"] = LookupTempError("SERVFAIL")
    classifier.note_delivery("broken.example", tls=True)
    assert await classifier.classify("broken.example") is TlsClass.TLS


async def test_tls_probe_disabled_and_bad_names(clock: Any) -> None:
    classifier, _, prober = make(clock, probe_enabled=False)
    assert await classifier.classify("any.example") is TlsClass.UNKNOWN
    assert await classifier.classify("not a domain") is TlsClass.UNKNOWN
    assert prober.calls == []


async def test_tls_a_failed_lookup_with_nothing_else_known_is_a_failed_decision(clock: Any) -> None:
    """Issue 23: resolver down, no observation, the probe learns nothing (its MX lookup
    fails too): not a quiet UNKNOWN but DecisionFailed, so the flagged message's record
    says tls_decision=failed."""
    import pytest
    from privacy_milter.tlspolicy.model import DecisionFailed, DnsLookupError

    classifier, resolver, prober = make(clock)
    resolver.decisions["dark.example"] = DnsLookupError("MX dark.example: timed out")
    with pytest.raises(DecisionFailed):
        await classifier.classify("dark.example")
    with pytest.raises(DecisionFailed):  # rate-limited, still failed
        await classifier.classify("dark.example")
    resolver.decisions["lit.example"] = DnsLookupError("timed out")
    prober.results["lit.example"] = TlsClass.TLS
    assert await classifier.classify("lit.example") is TlsClass.TLS
    # no lookup error: an unknown stays a plain UNKNOWN
    assert await classifier.classify("quiet.example") is TlsClass.UNKNOWN


@dataclass
class HopProber:
    """probe_named_host / probe_host / probe_domain with their arguments recorded."""

    result: TlsClass = TlsClass.TLS
    calls: list[tuple[str, str, int | None]] = field(default_factory=list)

    async def probe_named_host(self, host: str, port: int | None = None) -> TlsClass:
        self.calls.append(("named", host, port))
        return self.result

    async def probe_host(self, address: str, port: int | None = None) -> TlsClass:
        self.calls.append(("address", address, port))
        return self.result

    async def probe_domain(self, domain: str, port: int | None = None) -> TlsClass:
        self.calls.append(("mx", domain, port))
        return self.result


async def test_tls_a_relay_next_hop_is_classified_by_its_own_starttls(clock: Any) -> None:
    """Issue 23 item 2: with a relayhost, flagged mail's class is the relay's."""
    config = TlsPolicyConfig(probe_cache_ttl=1000, probe_min_interval=100, pins={})
    resolver, prober = FakeResolver(), HopProber()
    classifier = Classifier(config, resolver, prober, clock=clock)  # type: ignore[arg-type]
    assert await classifier.classify_next_hop("[Relay.Example]:587") is TlsClass.TLS
    assert await classifier.classify_next_hop("[relay.example]:587") is TlsClass.TLS  # cached
    assert await classifier.classify_next_hop("[192.0.2.1]") is TlsClass.TLS
    assert await classifier.classify_next_hop("smarthost.example:2525") is TlsClass.TLS
    assert prober.calls == [("named", "relay.example", 587), ("address", "192.0.2.1", 25),
                            ("mx", "smarthost.example", 2525)]
    resolver.decisions["[pinned.example]:587"] = Decision(Source.PIN, Level.SECURE)
    assert await classifier.classify_next_hop("[pinned.example]:587") is TlsClass.AUTHENTICATED
    prober.result = TlsClass.PLAIN
    assert await classifier.classify_next_hop("[plain.example]:25") is TlsClass.PLAIN
    assert await classifier.classify_next_hop("not a hop") is TlsClass.UNKNOWN
