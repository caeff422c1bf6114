"""DANE for SMTP (RFC 7672): is every MX of a domain reachable with usable TLSA records?

A domain gets `dane-only` when its MX RRset is DNSSEC-secure and every MX host has a
secure address and usable TLSA records at _PORT._tcp.HOST; `dane` when only some do
(Postfix then authenticates those and uses opportunistic TLS for the rest); no DANE when
the MX RRset is insecure. Once the MX RRset is secure, any lookup failure below it is a
LookupTempError (Postfix must defer), and so is an MX failure for a domain we saw with
DANE before (a bogus answer arrives as SERVFAIL and must not downgrade it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dns.name

from privacy_milter.tlspolicy.dnsclient import DnsClient
from privacy_milter.tlspolicy.model import DnsLookupError, Level, LookupTempError

log = logging.getLogger("privacy_milter.tlspolicy")

#: Usages DANE-TA(2) and DANE-EE(3) only (RFC 7672 §3.1.3); PKIX usages are unusable for SMTP.
USABLE_USAGES = frozenset({2, 3})
USABLE_SELECTORS = frozenset({0, 1})
DIGEST_LENGTHS = {1: 32, 2: 64}  # mtype → digest bytes; mtype 0 is the full data
MAX_MX_HOSTS = 32


@dataclass(frozen=True)
class DaneResult:
    level: Level | None  # DANE_ONLY, DANE, or None (no DANE)
    detail: str
    hosts: tuple[str, ...] = ()


def usable_tlsa(record: Any) -> bool:
    usage, selector, mtype, cert = record.usage, record.selector, record.mtype, record.cert
    if usage not in USABLE_USAGES or selector not in USABLE_SELECTORS:
        return False
    if mtype == 0:
        return len(cert) > 0
    return DIGEST_LENGTHS.get(mtype) == len(cert)


class DaneChecker:
    def __init__(self, dns: DnsClient, *, memory_size: int = 10000,
                 clock: Callable[[], float] = time.time, memory_ttl: float = 30 * 86400) -> None:
        self._dns = dns
        self._clock = clock
        self._memory_ttl = memory_ttl
        self._memory_size = memory_size
        self._known: OrderedDict[str, float] = OrderedDict()  # domain → last seen with DANE

    def believed(self, domain: str) -> bool:
        seen = self._known.get(domain)
        return seen is not None and self._clock() - seen < self._memory_ttl

    def remember(self, domain: str) -> None:
        self._known[domain] = self._clock()
        self._known.move_to_end(domain)
        while len(self._known) > self._memory_size:
            self._known.popitem(last=False)

    async def check_domain(self, domain: str, port: int = 25) -> DaneResult:
        """MX lookup (or the implicit MX), then every host. `domain` is an A-label."""
        try:
            mx = await self._dns.query(domain, "MX")
        except DnsLookupError as exc:
            if self.believed(domain):
                raise LookupTempError(f"DANE domain {domain}: {exc}") from None
            log.info("tls policy: %s: MX lookup failed (%s); not known as DANE, no DANE", domain, exc)
            return DaneResult(None, f"MX lookup failed: {exc}")
        if not mx.exists:
            return DaneResult(None, "domain does not exist")
        if not mx.secure:
            return DaneResult(None, "MX records not DNSSEC-signed")
        if mx.records:
            ordered = sorted(mx.records, key=lambda r: (r.preference, r.exchange.to_text()))
            if all(r.exchange == dns.name.root for r in ordered):
                return DaneResult(None, "null MX: the domain accepts no mail")
            hosts = tuple(dict.fromkeys(r.exchange.to_text(omit_final_dot=True).lower()
                                        for r in ordered if r.exchange != dns.name.root))
        else:
            hosts = (domain,)  # RFC 5321 §5.1 implicit MX
        result = await self.check_hosts(hosts, port, context=domain)
        if result.level is not None:
            self.remember(domain)
        return result

    async def check_hosts(self, hosts: tuple[str, ...], port: int = 25, *, context: str = "") -> DaneResult:
        """DANE state of explicit hosts (MX hosts, or a [host] next-hop)."""
        if len(hosts) > MAX_MX_HOSTS:
            hosts = hosts[:MAX_MX_HOSTS]
        states = await asyncio.gather(*(self._host_has_dane(h, port, context) for h in hosts))
        with_dane = tuple(h for h, ok in zip(hosts, states) if ok)
        if not with_dane:
            return DaneResult(None, "no MX host has usable DNSSEC-signed TLSA", hosts)
        if len(with_dane) == len(hosts):
            return DaneResult(Level.DANE_ONLY, f"usable TLSA on all {len(hosts)} MX host(s)", hosts)
        return DaneResult(Level.DANE, f"usable TLSA on {len(with_dane)} of {len(hosts)} MX hosts", hosts)

    async def _host_has_dane(self, host: str, port: int, context: str) -> bool:
        where = context or host
        try:
            addr = await self._dns.query(host, "A")
            if addr.exists and not addr.records:
                addr = await self._dns.query(host, "AAAA")
            if not addr.exists or not addr.records or not addr.secure:
                return False  # no address, or not signed: no TLSA lookup (RFC 7672 §2.2.2)
            tlsa = await self._dns.query(f"_{port}._tcp.{host}", "TLSA")
        except DnsLookupError as exc:
            raise LookupTempError(f"{where}: DNSSEC-signed MX, but {exc}") from None
        if not tlsa.secure or not tlsa.records:
            return False
        return any(usable_tlsa(r) for r in tlsa.records)
