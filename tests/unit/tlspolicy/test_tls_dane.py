"""DANE decisions from DNS answers (fake DNS with the AD bit per answer)."""

from __future__ import annotations

from typing import Any

import pytest

from privacy_milter.tlspolicy.dane import DaneChecker
from privacy_milter.tlspolicy.model import Level, LookupTempError

TLSA_EE = "3 1 1 " + "ab" * 32
TLSA_PKIX = "1 1 1 " + "ab" * 32


def signed_domain(dns: Any, domain: str = "example.com", hosts: tuple[str, ...] = ("mx1.example.com",),
                  tlsa: str | None = TLSA_EE) -> None:
    dns.set(domain, "MX", *(f"{10 * (i + 1)} {h}." for i, h in enumerate(hosts)), secure=True)
    for h in hosts:
        dns.set(h, "A", "192.0.2.1", secure=True)
        if tlsa:
            dns.set(f"_25._tcp.{h}", "TLSA", tlsa, secure=True)


async def test_tls_all_hosts_with_tlsa_is_dane_only(fake_dns: Any) -> None:
    signed_domain(fake_dns, hosts=("mx1.example.com", "mx2.example.com"))
    result = await DaneChecker(fake_dns).check_domain("example.com")
    assert result.level is Level.DANE_ONLY
    assert result.hosts == ("mx1.example.com", "mx2.example.com")


async def test_tls_some_hosts_with_tlsa_is_dane(fake_dns: Any) -> None:
    signed_domain(fake_dns, hosts=("mx1.example.com", "mx2.example.com"))
    fake_dns.set("_25._tcp.mx2.example.com", "TLSA", exists=False, secure=True)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is Level.DANE


async def test_tls_insecure_mx_means_no_dane_and_no_tlsa_lookup(fake_dns: Any) -> None:
    fake_dns.set("example.com", "MX", "10 mx1.example.com.", secure=False)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None
    assert fake_dns.asked == [("example.com", "MX")]


async def test_tls_insecure_host_address_or_tlsa_means_no_dane(fake_dns: Any) -> None:
    signed_domain(fake_dns)
    fake_dns.set("mx1.example.com", "A", "192.0.2.1", secure=False)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None
    signed_domain(fake_dns)
    fake_dns.set("_25._tcp.mx1.example.com", "TLSA", TLSA_EE, secure=False)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None


async def test_tls_unusable_tlsa_is_not_dane(fake_dns: Any) -> None:
    signed_domain(fake_dns, tlsa=TLSA_PKIX)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None
    signed_domain(fake_dns, tlsa="3 1 255 abcd")  # unknown matching type
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None
    signed_domain(fake_dns, tlsa="3 7 1 " + "ab" * 32)  # unknown selector
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None


async def test_tls_implicit_mx_uses_the_domain(fake_dns: Any) -> None:
    fake_dns.set("example.com", "MX", secure=True)  # NODATA
    fake_dns.set("example.com", "A", "192.0.2.1", secure=True)
    fake_dns.set("_25._tcp.example.com", "TLSA", TLSA_EE, secure=True)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is Level.DANE_ONLY


async def test_tls_null_mx_is_not_dane(fake_dns: Any) -> None:
    fake_dns.set("example.com", "MX", "0 .", secure=True)
    assert (await DaneChecker(fake_dns).check_domain("example.com")).level is None


async def test_tls_failure_below_a_signed_mx_is_temp(fake_dns: Any) -> None:
    signed_domain(fake_dns)
    fake_dns.fail("_25._tcp.mx1.example.com", "TLSA")
    with pytest.raises(LookupTempError):
        await DaneChecker(fake_dns).check_domain("example.com")
    signed_domain(fake_dns)
    fake_dns.fail("mx1.example.com", "A")
    with pytest.raises(LookupTempError):
        await DaneChecker(fake_dns).check_domain("example.com")


async def test_tls_mx_servfail_is_temp_only_for_domains_known_as_dane(fake_dns: Any) -> None:
    checker = DaneChecker(fake_dns)
    fake_dns.fail("new.example", "MX")
    assert (await checker.check_domain("new.example")).level is None
    signed_domain(fake_dns)
    assert (await checker.check_domain("example.com")).level is Level.DANE_ONLY
    fake_dns.fail("example.com", "MX")  # bogus now: a validating resolver says SERVFAIL
    with pytest.raises(LookupTempError):
        await checker.check_domain("example.com")


async def test_tls_dane_memory_expires(fake_dns: Any, clock: Any) -> None:
    checker = DaneChecker(fake_dns, clock=clock, memory_ttl=100)
    signed_domain(fake_dns)
    await checker.check_domain("example.com")
    fake_dns.fail("example.com", "MX")
    clock.advance(101)
    assert (await checker.check_domain("example.com")).level is None
