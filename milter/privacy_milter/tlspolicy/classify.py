"""TLS class of a recipient domain, for flagged messages.

Strongest evidence first: an authenticated policy (DANE, MTA-STS enforce, a secure or
dane-only pin) → AUTHENTICATED; an `encrypt` pin → TLS (encryption is enforced but the
peer is not authenticated); then the newest observation, from a past delivery
(note_delivery) or a probe, while younger than probe_cache_ttl; then a probe, at most one
per domain per probe_min_interval and probe_max_concurrent overall.

UNKNOWN means "nothing learned". When the policy lookup itself failed (resolver down)
and nothing else is known, classify raises DecisionFailed instead: the caller must know
that the decision failed, not merely came out unknown.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.dnsclient import ascii_domain
from privacy_milter.tlspolicy.model import DecisionFailed, Level, TlsClass, TlsPolicyError
from privacy_milter.tlspolicy.nexthop import parse_next_hop
from privacy_milter.tlspolicy.probe import Prober
from privacy_milter.tlspolicy.resolver import PolicyResolver

log = logging.getLogger("privacy_milter.tlspolicy")

V = TypeVar("V")


@dataclass(frozen=True)
class Observation:
    tls_class: TlsClass
    at: float
    source: str  # "probe" or "delivery"


class Classifier:
    def __init__(self, config: TlsPolicyConfig, resolver: PolicyResolver, prober: Prober | None,
                 *, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._resolver = resolver
        self._prober = prober if config.probe_enabled else None
        self._clock = clock
        self._seen: OrderedDict[str, Observation] = OrderedDict()
        self._last_probe: OrderedDict[str, float] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[TlsClass]] = {}
        self._slots = asyncio.Semaphore(config.probe_max_concurrent)

    def note_delivery(self, domain: str, tls: bool) -> None:
        """Record how a delivery to `domain` went. Call on the loop thread."""
        try:
            key = ascii_domain(domain)
        except TlsPolicyError:
            return
        self._remember(self._seen, key, Observation(TlsClass.TLS if tls else TlsClass.PLAIN, self._clock(), "delivery"))

    def observation(self, domain: str) -> Observation | None:
        seen = self._seen.get(domain)
        if seen is None or self._clock() - seen.at >= self._config.probe_cache_ttl:
            return None
        return seen

    async def classify(self, domain: str) -> TlsClass:
        """Raises DecisionFailed when the policy lookup failed and nothing else is known."""
        try:
            key = ascii_domain(domain)
        except TlsPolicyError:
            return TlsClass.UNKNOWN
        return await self._decide(key, lambda prober: prober.probe_domain(key))

    async def classify_next_hop(self, next_hop: str) -> TlsClass:
        """The class of a relay Postfix sends through ("[relay.example]:587", a relayhost or a
        transport's next hop): its policy (DANE on the host, a pin), else what its own
        STARTTLS offer says (the host itself when bracketed, its MX otherwise). Raises
        DecisionFailed as classify does."""
        hop = parse_next_hop(next_hop)
        literal = _ip_literal(hop.key)
        if hop.host is None and literal is None:
            return TlsClass.UNKNOWN
        port = hop.port
        if literal is not None:
            return await self._decide(hop.key, lambda prober: prober.probe_host(literal, port))
        host = hop.host
        assert host is not None
        if hop.bracketed:
            return await self._decide(hop.key, lambda prober: prober.probe_named_host(host, port))
        return await self._decide(hop.key, lambda prober: prober.probe_domain(host, port))

    async def _decide(self, key: str, probe: Callable[[Prober], Awaitable[TlsClass]]) -> TlsClass:
        try:
            decision = await self._resolver.decide(key)
        except TlsPolicyError as exc:
            # A believed policy that cannot be confirmed: Postfix defers, never sends plain.
            log.info("tls classify: %s: policy lookup failed (%s); using observations", key, exc)
            found = await self._observe(key, probe)
            if found is TlsClass.UNKNOWN:
                raise DecisionFailed(f"{key}: policy lookup failed ({exc}) and nothing else is known") from None
            return found
        if PolicyResolver.is_authenticated(decision):
            return TlsClass.AUTHENTICATED
        if decision.level is Level.ENCRYPT:
            return TlsClass.TLS
        return await self._observe(key, probe)

    async def _observe(self, key: str, probe: Callable[[Prober], Awaitable[TlsClass]]) -> TlsClass:
        """What deliveries or a probe say of the domain's MX (UNKNOWN: nothing learned)."""
        seen = self.observation(key)
        if seen is not None:
            return seen.tls_class
        if self._prober is None:
            return TlsClass.UNKNOWN
        task = self._inflight.get(key)
        if task is None:
            last = self._last_probe.get(key)
            if last is not None and self._clock() - last < self._config.probe_min_interval:
                return TlsClass.UNKNOWN
            self._remember(self._last_probe, key, self._clock())
            task = asyncio.create_task(self._probe(key, probe))
            self._inflight[key] = task
            task.add_done_callback(lambda _t: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _probe(self, domain: str, probe: Callable[[Prober], Awaitable[TlsClass]]) -> TlsClass:
        assert self._prober is not None
        async with self._slots:
            result = await probe(self._prober)
        if result is not TlsClass.UNKNOWN:
            self._remember(self._seen, domain, Observation(result, self._clock(), "probe"))
        log.info("tls classify: %s: probe says %s", domain, result.value)
        return result

    async def stop(self) -> None:
        for task in list(self._inflight.values()):
            task.cancel()

    def _remember(self, table: OrderedDict[str, V], key: str, value: V) -> None:
        table[key] = value
        table.move_to_end(key)
        while len(table) > self._config.cache_size:
            table.popitem(last=False)


def _ip_literal(key: str) -> str | None:
    """The address of "[192.0.2.1]" or "[192.0.2.1]:587" (Postfix's IP-literal next hops)."""
    if not key.startswith("["):
        return None
    inner = key[1:].partition("]")[0].removeprefix("ipv6:")
    try:
        return str(ipaddress.ip_address(inner))
    except ValueError:
        return None
