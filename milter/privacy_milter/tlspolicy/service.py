"""TlsPolicyService: the one object the daemon creates for outbound TLS.

    service = TlsPolicyService(config)        # on the daemon's loop thread
    await service.start()                      # socketmap responder + MTA-STS refresher
    await service.lookup("example.com")        # Response, as Postfix would get it
    await service.classify("example.com")      # TlsClass for flagged messages
    service.note_delivery("example.com", tls=True)
    await service.stop()
"""

from __future__ import annotations

import logging
import ssl
from collections import OrderedDict
import time
from collections.abc import Callable, Mapping

import dns.asyncresolver
from aiohttp.abc import AbstractResolver

from privacy_milter.tlspolicy.cache import MemoryPolicyCache, PolicyCache
from privacy_milter.tlspolicy.classify import Classifier
from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.dane import DaneChecker
from privacy_milter.tlspolicy.dnsclient import DnsClient, make_resolver
from privacy_milter.tlspolicy.https import PolicyFetcher, StaticHostResolver
from privacy_milter.tlspolicy.model import Decision, LookupTempError, Source, TlsClass
from privacy_milter.tlspolicy.mtasts import MtaStsResolver
from privacy_milter.tlspolicy.probe import Prober
from privacy_milter.tlspolicy.resolver import PolicyResolver
from privacy_milter.tlspolicy.responder import SocketmapResponder
from privacy_milter.tlspolicy.socketmap import Request, Response

log = logging.getLogger("privacy_milter.tlspolicy")


ANSWERED_MAX = 10_000  # next hops remembered for policy_for
POLICY_NAMES = {Source.DANE: "dane", Source.MTA_STS: "mta-sts", Source.PIN: "pin", Source.NONE: "opportunistic"}


class TlsPolicyService:
    def __init__(self, config: TlsPolicyConfig, *, cache: PolicyCache | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 dns_resolver: dns.asyncresolver.Resolver | None = None,
                 https_hosts: Mapping[str, tuple[str, int]] | AbstractResolver | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        """`cache`: where MTA-STS policies live (default: in memory, config.cache_size).
        `ssl_context`: trust for policy HTTPS fetches (default: config.mtasts_ca_file,
        else the system CAs).
        `dns_resolver`: replaces the one built from config.nameserver/port.
        `https_hosts`: host → (address, port) for policy fetches, or an aiohttp resolver
        (tests; default: the system's name resolution)."""
        self.config = config
        self._answered: OrderedDict[str, str] = OrderedDict()
        self.cache = cache if cache is not None else MemoryPolicyCache(config.cache_size)
        resolver = dns_resolver or make_resolver(config.nameserver, config.nameserver_port, config.dns_timeout)
        self.dns = DnsClient(resolver)
        host_resolver = StaticHostResolver(https_hosts) if isinstance(https_hosts, Mapping) else https_hosts
        if ssl_context is None and config.mtasts_ca_file:
            ssl_context = ssl.create_default_context(cafile=config.mtasts_ca_file)
        self.fetcher = PolicyFetcher(timeout=config.mtasts_fetch_timeout, max_bytes=config.mtasts_max_policy_bytes,
                                     ssl_context=ssl_context, host_resolver=host_resolver)
        self.dane = DaneChecker(self.dns, memory_size=config.cache_size, clock=clock)
        self.mtasts = MtaStsResolver(config, self.dns, self.fetcher, self.cache, clock=clock)
        self.resolver = PolicyResolver(config, self.dane, self.mtasts)
        prober = Prober(self.dns, port=config.probe_port, timeout=config.probe_timeout, helo=config.probe_helo,
                        max_hosts=config.probe_max_hosts)
        self._classifier = Classifier(config, self.resolver, prober, clock=clock)
        self.responder = SocketmapResponder(
            self.handle, path=config.socket_path, mode=config.socket_mode,
            max_request_bytes=config.max_request_bytes, request_timeout=config.request_timeout,
            idle_timeout=config.idle_timeout, max_connections=config.max_connections)
        self._started = False
        self._serving = False

    async def start(self, *, serve: bool = True) -> None:
        """Open the cache and HTTPS session, start the refresher, and (serve=True) listen
        on config.socket_path. Call on the running loop; safe to call twice."""
        if self._started:
            return
        try:
            await self.cache.setup()
        except Exception:  # a broken store must not take outbound TLS down with it
            log.exception("tls policy cache: setup failed; using an in-memory cache instead")
            self.cache = MemoryPolicyCache(self.config.cache_size)
            self.mtasts.use_cache(self.cache)
        await self.fetcher.start()
        await self.mtasts.start()
        self._started = True
        if serve:
            try:
                await self.responder.start()
            except BaseException:
                await self.stop()
                raise
            self._serving = True

    async def stop(self) -> None:
        if not self._started:
            return
        if self._serving:
            await self.responder.stop()
            self._serving = False
        await self._classifier.stop()
        await self.mtasts.stop()
        await self.fetcher.stop()
        try:
            await self.cache.teardown()
        except Exception:  # stopping goes on
            log.exception("tls policy cache: teardown failed")
        self._started = False

    async def handle(self, request: Request) -> Response:
        """One socketmap request (the responder's handler)."""
        if self.config.map_name and request.name != self.config.map_name:
            return Response.perm(f"unknown map name; this service answers {self.config.map_name!r}")
        return await self.lookup(request.key)

    async def decide(self, key: str) -> Decision:
        """The decision with its reason; raises LookupTempError."""
        return await self.resolver.decide(key)

    async def lookup(self, key: str) -> Response:
        """What Postfix gets for next-hop `key`: OK policy, NOTFOUND, or TEMP."""
        try:
            decision = await self.resolver.decide(key)
        except LookupTempError as exc:
            log.warning("tls policy: %s → TEMP (%s)", key, exc)
            return Response.temp("TLS policy lookup failed for a destination that has one; try later")
        except Exception:  # answer TEMP rather than let Postfix go plain
            log.exception("tls policy: %s → TEMP (internal error)", key)
            return Response.temp("TLS policy lookup failed")
        policy = decision.postfix_policy()
        log.info("tls policy: %s → %s (%s: %s)", key, policy or "NOTFOUND", decision.source.value, decision.detail)
        self._remember(key, decision.source)
        return Response.ok(policy) if policy else Response.notfound()

    def _remember(self, key: str, source: Source) -> None:
        domain = key.strip("[]").rsplit("]:", 1)[0].strip("[]").lower().lstrip(".")
        self._answered[domain] = POLICY_NAMES.get(source, "opportunistic")
        self._answered.move_to_end(domain)
        while len(self._answered) > ANSWERED_MAX:
            self._answered.popitem(last=False)

    def policy_for(self, domain: str) -> str:
        """The TLS policy Postfix was last given for `domain` (dane, mta-sts, pin or
        opportunistic), "unknown" if it never asked: what the delivery-log reader records
        per delivery. Safe from any thread (one dict read)."""
        return self._answered.get(domain.lower(), "unknown")

    async def classify(self, domain: str) -> TlsClass:
        """AUTHENTICATED, TLS, PLAIN or UNKNOWN for a recipient domain (see classify.py).
        Needs start() (the MTA-STS fetcher's HTTPS session)."""
        return await self._classifier.classify(domain)

    async def classify_next_hop(self, next_hop: str) -> TlsClass:
        """The class of a relay Postfix sends through, e.g. "[relay.example]:587" (see
        classify.py). Needs start()."""
        return await self._classifier.classify_next_hop(next_hop)

    def note_delivery(self, domain: str, tls: bool) -> None:
        """Remember how a delivery to `domain` went. Call on the loop thread."""
        self._classifier.note_delivery(domain, tls)
