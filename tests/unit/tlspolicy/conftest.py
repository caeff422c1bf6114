"""Fakes for the tlspolicy unit tests: a DNS table, a policy fetcher, a clock, a transcript."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from privacy_milter.tlspolicy.dnsclient import DnsAnswer
from privacy_milter.tlspolicy.model import DnsLookupError, MtaStsError

# A socketmap conversation: requests as Postfix 3.7.11's socketmap client writes them
# (the example.com and [smtp.relay.example]:587 lines were captured from `postmap -q`),
# responses as this service writes them.
TRANSCRIPT: list[tuple[bytes, bytes]] = [
    (b"21:tlspolicy example.com,",
     b"12:OK dane-only,"),
    (b"26:tlspolicy mail.example.org,",
     b"49:OK secure match=mx1.example.org:.mail.example.org,"),
    (b"22:tlspolicy .example.org,",
     b"9:NOTFOUND ,"),
    (b"34:tlspolicy [smtp.relay.example]:587,",
     b"10:OK encrypt,"),
    (b"26:tlspolicy xn--bcher-kva.de,",
     b"71:TEMP TLS policy lookup failed for a destination that has one; try later,"),
    (b"17:othermap some.key,",
     b"55:PERM unknown map name; this service answers 'tlspolicy',"),
]


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeDns:
    """(name, rdtype) → DnsAnswer, or an exception to raise; unknown names are NXDOMAIN."""

    table: dict[tuple[str, str], DnsAnswer | Exception] = field(default_factory=dict)
    asked: list[tuple[str, str]] = field(default_factory=list)

    def set(self, name: str, rdtype: str, *values: str, secure: bool = False, exists: bool = True) -> None:
        rtype = dns.rdatatype.from_text(rdtype)
        origin = dns.name.from_text(name.rstrip(".") + ".")
        records = tuple(dns.rdata.from_text(dns.rdataclass.IN, rtype, v, origin=origin, relativize=False)
                        for v in values)
        self.table[(name, rdtype)] = DnsAnswer(name, rdtype, exists, secure, records)

    def fail(self, name: str, rdtype: str, message: str = "SERVFAIL") -> None:
        self.table[(name, rdtype)] = DnsLookupError(f"{rdtype} {name}: {message}")

    async def query(self, name: Any, rdtype: str) -> DnsAnswer:
        name = str(name).rstrip(".")
        self.asked.append((name, rdtype))
        found = self.table.get((name, rdtype))
        if isinstance(found, Exception):
            raise found
        if found is not None:
            return found
        exists = any(k[0] == name for k in self.table)
        return DnsAnswer(name, rdtype, exists, False, ())


@dataclass
class FakeFetcher:
    """domain → policy text, or an exception."""

    texts: dict[str, str | Exception] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    async def fetch(self, domain: str) -> str:
        self.calls.append(domain)
        found = self.texts.get(domain, MtaStsError(f"{domain}: HTTP status 404, not 200"))
        if isinstance(found, Exception):
            raise found
        return found


@pytest.fixture
def transcript() -> list[tuple[bytes, bytes]]:
    return list(TRANSCRIPT)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake_dns() -> FakeDns:
    return FakeDns()


@pytest.fixture
def fake_fetcher() -> FakeFetcher:
    return FakeFetcher()
