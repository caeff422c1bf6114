"""Decision order with fake lookups: DANE, then MTA-STS enforce, then pins, else NOTFOUND."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.dane import DaneResult
from privacy_milter.tlspolicy.model import Level, LookupTempError, Mode, MtaStsPolicy, Source
from privacy_milter.tlspolicy.nexthop import NextHop, parse_next_hop
from privacy_milter.tlspolicy.resolver import PolicyResolver

ENFORCE = MtaStsPolicy(Mode.ENFORCE, ("mx.example.com", "*.example.net"), 86400)
TESTING = MtaStsPolicy(Mode.TESTING, ("mx.example.com",), 86400)


@dataclass
class FakeDane:
    domains: dict[str, DaneResult | Exception] = field(default_factory=dict)
    calls: list[tuple[str, object, int]] = field(default_factory=list)

    async def check_domain(self, domain: str, port: int = 25) -> DaneResult:
        self.calls.append(("domain", domain, port))
        return self._get(domain)

    async def check_hosts(self, hosts: tuple[str, ...], port: int = 25, *, context: str = "") -> DaneResult:
        self.calls.append(("hosts", hosts, port))
        return self._get(hosts[0])

    def _get(self, key: str) -> DaneResult:
        found = self.domains.get(key, DaneResult(None, "insecure"))
        if isinstance(found, Exception):
            raise found
        return found


@dataclass
class FakeMtaSts:
    policies: dict[str, MtaStsPolicy | Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def get(self, domain: str) -> MtaStsPolicy | None:
        self.calls.append(domain)
        found = self.policies.get(domain)
        if isinstance(found, Exception):
            raise found
        return found


def make(pins: dict[str, str] | None = None, **kw: bool) -> tuple[PolicyResolver, FakeDane, FakeMtaSts]:
    dane, sts = FakeDane(), FakeMtaSts()
    resolver = PolicyResolver(TlsPolicyConfig(pins=pins or {}, **kw), dane, sts)  # type: ignore[arg-type]
    return resolver, dane, sts


async def test_tls_dane_wins_over_mta_sts_and_pins() -> None:
    resolver, dane, sts = make({"example.com": "encrypt"})
    dane.domains["example.com"] = DaneResult(Level.DANE_ONLY, "usable TLSA on all 2 MX host(s)")
    sts.policies["example.com"] = ENFORCE
    decision = await resolver.decide("example.com")
    assert (decision.source, decision.postfix_policy()) == (Source.DANE, "dane-only")
    assert sts.calls == []  # MTA-STS is not even asked


async def test_tls_partial_dane_is_dane() -> None:
    resolver, dane, _ = make()
    dane.domains["example.com"] = DaneResult(Level.DANE, "usable TLSA on 1 of 2 MX hosts")
    assert (await resolver.decide("example.com")).postfix_policy() == "dane"


async def test_tls_mta_sts_enforce_when_no_dane() -> None:
    resolver, _, sts = make({"example.com": "encrypt"})
    sts.policies["example.com"] = ENFORCE
    decision = await resolver.decide("Example.COM.")
    assert decision.source is Source.MTA_STS
    assert decision.postfix_policy() == "secure match=mx.example.com:.example.net"


async def test_tls_mta_sts_testing_falls_through_to_pin_or_notfound() -> None:
    resolver, _, sts = make({"pinned.example": "secure"})
    sts.policies["example.com"] = TESTING
    sts.policies["pinned.example"] = TESTING
    assert (await resolver.decide("example.com")).postfix_policy() is None
    assert (await resolver.decide("pinned.example")).postfix_policy() == "secure"


async def test_tls_pins_then_notfound() -> None:
    resolver, _, _ = make({"bank.example": "dane-only", ".corp.example": "encrypt"})
    assert (await resolver.decide("bank.example")).postfix_policy() == "dane-only"
    assert (await resolver.decide("mail.corp.example")).postfix_policy() == "encrypt"
    nothing = await resolver.decide("other.example")
    assert nothing.source is Source.NONE and nothing.postfix_policy() is None


async def test_tls_temp_errors_propagate_before_weaker_sources() -> None:
    resolver, dane, sts = make({"example.com": "encrypt"})
    dane.domains["example.com"] = LookupTempError("TLSA SERVFAIL in a signed zone")
    with pytest.raises(LookupTempError):
        await resolver.decide("example.com")
    dane.domains.clear()
    sts.policies["example.com"] = LookupTempError("expired policy cannot be refreshed")
    with pytest.raises(LookupTempError):
        await resolver.decide("example.com")


async def test_tls_bracketed_next_hop_uses_dane_on_the_host_and_no_mta_sts() -> None:
    resolver, dane, sts = make({"[relay.example]:587": "encrypt"})
    dane.domains["relay.example"] = DaneResult(None, "insecure")
    assert (await resolver.decide("[relay.example]:587")).postfix_policy() == "encrypt"
    assert dane.calls == [("hosts", ("relay.example",), 587)]
    assert sts.calls == []
    dane.domains["mx.secure.example"] = DaneResult(Level.DANE_ONLY, "usable TLSA")
    assert (await resolver.decide("[mx.secure.example]")).postfix_policy() == "dane-only"


async def test_tls_non_default_port_skips_mta_sts() -> None:
    resolver, dane, sts = make()
    sts.policies["example.com"] = ENFORCE
    assert (await resolver.decide("example.com:2525")).postfix_policy() is None
    assert dane.calls == [("domain", "example.com", 2525)]
    assert sts.calls == []


async def test_tls_parent_forms_and_ip_literals_only_use_pins() -> None:
    resolver, dane, sts = make({".corp.example": "secure", "[192.0.2.1]": "encrypt"})
    assert (await resolver.decide(".corp.example")).postfix_policy() == "secure"
    assert (await resolver.decide(".other.example")).postfix_policy() is None
    assert (await resolver.decide("[192.0.2.1]")).postfix_policy() == "encrypt"
    assert (await resolver.decide("[192.0.2.2]:25")).postfix_policy() is None
    assert dane.calls == [] and sts.calls == []


async def test_tls_switches_turn_sources_off() -> None:
    resolver, dane, sts = make(dane_enabled=False, mtasts_enabled=False)
    dane.domains["example.com"] = DaneResult(Level.DANE_ONLY, "x")
    sts.policies["example.com"] = ENFORCE
    assert (await resolver.decide("example.com")).postfix_policy() is None


@pytest.mark.parametrize(("key", "expected"), [
    ("example.com", NextHop("example.com", "example.com")),
    ("Example.com.", NextHop("example.com", "example.com")),
    ("example.com:587", NextHop("example.com:587", "example.com", 587)),
    ("[mx.example.com]", NextHop("[mx.example.com]", "mx.example.com", 25, True)),
    ("[mx.example.com]:2525", NextHop("[mx.example.com]:2525", "mx.example.com", 2525, True)),
    (".example.com", NextHop(".example.com", None)),
    ("[192.0.2.1]:25", NextHop("[192.0.2.1]:25", None, 25, True)),
    ("[ipv6:2001:db8::1]", NextHop("[ipv6:2001:db8::1]", None, 25, True)),
    ("bücher.de", NextHop("bücher.de", "xn--bcher-kva.de")),
    ("[mx.example.com", NextHop("[mx.example.com", None)),
    ("[mx.example.com]:99999", NextHop("[mx.example.com]:99999", None)),
    ("localhost", NextHop("localhost", None)),
    ("", NextHop("", None)),
])
def test_tls_next_hop_forms(key: str, expected: NextHop) -> None:
    assert parse_next_hop(key) == expected


async def test_tls_mta_sts_servername_option() -> None:
    dane, sts = FakeDane(), FakeMtaSts()
    sts.policies["example.com"] = ENFORCE
    resolver = PolicyResolver(TlsPolicyConfig(mtasts_servername=True), dane, sts)  # type: ignore[arg-type]
    assert (await resolver.decide("example.com")).postfix_policy() == \
        "secure match=mx.example.com:.example.net servername=hostname"


async def test_tls_a_host_pin_covers_the_relayhost_next_hop() -> None:
    """docs/DEPLOY.md's relayhost step: `"relay.example" = "secure"` pins every delivery to
    [relay.example]:587 (so a SASL password never goes in clear)."""
    resolver, dane, _ = make({"relay.example": "secure"})
    dane.domains["relay.example"] = DaneResult(None, "insecure")
    assert (await resolver.decide("[relay.example]:587")).postfix_policy() == "secure"
