"""MTA-STS (RFC 8461): discovery, fetch, cache, and background refresh.

Lookup path: a cached, unexpired policy is the answer (the refresher keeps it current);
otherwise TXT then HTTPS. A failed fetch with no usable cached policy means "no policy"
(§5.1), except that an enforce policy which expired less than `mtasts_stale_grace` ago
and cannot be refreshed raises LookupTempError, so Postfix defers instead of going plain.

Refresher: every `mtasts_refresh_interval` it walks the cache; an entry whose TXT id
changed, or that expires within `mtasts_refresh_margin`, is fetched again; when that
fails the last good policy stays (§5.1, "continue to use the cached policy").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from privacy_milter.tlspolicy.cache import (
    CacheEntry,
    PolicyCache,
    safe_delete,
    safe_get,
    safe_scan,
    safe_set,
)
from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.dnsclient import DnsClient
from privacy_milter.tlspolicy.https import PolicyFetcher
from privacy_milter.tlspolicy.model import (
    DnsLookupError,
    LookupTempError,
    Mode,
    MtaStsError,
    MtaStsPolicy,
)
from privacy_milter.tlspolicy.mtasts_policy import parse_policy, parse_txt

log = logging.getLogger("privacy_milter.tlspolicy")

SCAN_PAGE = 100


class MtaStsResolver:
    def __init__(self, config: TlsPolicyConfig, dns: DnsClient, fetcher: PolicyFetcher, cache: PolicyCache,
                 *, clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._dns = dns
        self._fetcher = fetcher
        self._cache = cache
        self._clock = clock
        self._negative: OrderedDict[str, float] = OrderedDict()  # domain → time until "no policy"
        self._failed: OrderedDict[str, float] = OrderedDict()  # domain → time until next refetch try
        self._inflight: dict[str, asyncio.Task[MtaStsPolicy | None]] = {}
        self._refresher: asyncio.Task[None] | None = None

    # --- lifecycle -------------------------------------------------------------------------
    def use_cache(self, cache: PolicyCache) -> None:
        """Switch caches (the service falls back to memory when a store fails to open)."""
        self._cache = cache

    async def start(self) -> None:
        if self._config.mtasts_refresh_interval > 0 and self._refresher is None:
            self._refresher = asyncio.create_task(self._refresh_loop(), name="mta-sts-refresh")

    async def stop(self) -> None:
        tasks = [t for t in (self._refresher, *self._inflight.values()) if t is not None]
        self._refresher = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # --- lookup ----------------------------------------------------------------------------
    async def get(self, domain: str) -> MtaStsPolicy | None:
        """The domain's current policy (any mode), None when it has none usable.
        Raises LookupTempError (see module doc). Concurrent calls share one fetch."""
        entry = await safe_get(self._cache, domain)
        now = self._clock()
        if entry is not None and now < entry.expires_at(self._config.mtasts_min_max_age):
            return entry.policy
        until = self._negative.get(domain)
        if entry is None and until is not None and now < until:
            return None
        retry = self._failed.get(domain)
        if entry is not None and retry is not None and now < retry:
            # expired and a refetch failed moments ago: do not make every lookup wait for it
            return await self._fetch_failed(domain, entry, "refetch failed recently")
        task = self._inflight.get(domain)
        if task is None:
            task = asyncio.create_task(self._lookup(domain, entry))
            self._inflight[domain] = task
            task.add_done_callback(lambda _t: self._inflight.pop(domain, None))
        return await asyncio.shield(task)

    async def _lookup(self, domain: str, stale: CacheEntry | None) -> MtaStsPolicy | None:
        try:
            fresh = await self.fetch(domain)
        except (MtaStsError, DnsLookupError) as exc:
            if stale is not None:
                self._remember(self._failed, domain, self._clock() + self._config.mtasts_negative_ttl)
            return await self._fetch_failed(domain, stale, str(exc))
        if fresh is None:
            if stale is not None:
                await safe_delete(self._cache, domain)
            self._remember_negative(domain)
            return None
        await safe_set(self._cache, domain, fresh)
        self._negative.pop(domain, None)
        self._failed.pop(domain, None)
        return fresh.policy

    async def _fetch_failed(self, domain: str, stale: CacheEntry | None, reason: str) -> MtaStsPolicy | None:
        now = self._clock()
        if stale is not None and stale.policy.mode is Mode.ENFORCE:
            if now < stale.expires_at(self._config.mtasts_min_max_age) + self._config.mtasts_stale_grace:
                raise LookupTempError(f"MTA-STS policy of {domain} expired and cannot be refreshed: {reason}")
            await safe_delete(self._cache, domain)
        log.info("tls policy: %s: no MTA-STS policy used (%s)", domain, reason)
        self._remember_negative(domain)
        return None

    def _remember_negative(self, domain: str) -> None:
        self._remember(self._negative, domain, self._clock() + self._config.mtasts_negative_ttl)

    def _remember(self, table: OrderedDict[str, float], domain: str, until: float) -> None:
        if self._config.mtasts_negative_ttl <= 0:
            return
        table[domain] = until
        table.move_to_end(domain)
        while len(table) > self._config.cache_size:
            table.popitem(last=False)

    async def txt_id(self, domain: str) -> str | None:
        """The id of `_mta-sts.DOMAIN`, None when there is no valid record. Raises DnsLookupError."""
        answer = await self._dns.query(f"_mta-sts.{domain}", "TXT")
        strings = [b"".join(r.strings).decode("utf-8", "replace") for r in answer.records]
        return parse_txt(strings)

    async def fetch(self, domain: str) -> CacheEntry | None:
        """TXT, then the policy file. None: no MTA-STS record. Raises MtaStsError/DnsLookupError."""
        policy_id = await self.txt_id(domain)
        if policy_id is None:
            return None
        text = await self._fetcher.fetch(domain)
        policy = parse_policy(text, max_max_age=self._config.mtasts_max_max_age)
        log.info("tls policy: %s: MTA-STS policy id %s fetched: mode %s, max_age %d, %d mx pattern(s)",
                 domain, policy_id, policy.mode.value, policy.max_age, len(policy.mx))
        return CacheEntry(fetched_at=self._clock(), policy_id=policy_id, policy=policy)

    # --- background refresh ----------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._config.mtasts_refresh_interval)
            try:
                await self.refresh_once()
            except Exception:  # the refresher must outlive one bad pass
                log.exception("tls policy: MTA-STS refresh pass failed")

    async def refresh_once(self) -> int:
        """One pass over the cache; returns how many policies were replaced."""
        replaced = 0
        after: str | None = None
        while True:
            page = await safe_scan(self._cache, after, SCAN_PAGE)
            for domain, entry in page:
                if await self._refresh_entry(domain, entry):
                    replaced += 1
            if len(page) < SCAN_PAGE:
                return replaced
            after = page[-1][0]

    async def _refresh_entry(self, domain: str, entry: CacheEntry) -> bool:
        now = self._clock()
        expires = entry.expires_at(self._config.mtasts_min_max_age)
        try:
            current_id = await self.txt_id(domain)
        except DnsLookupError as exc:
            log.warning("tls policy: %s: MTA-STS refresh: %s; keeping policy id %s", domain, exc, entry.policy_id)
            return False
        if current_id is None:
            # RFC 8461 §5.1: a vanished TXT record does not end a cached policy before max_age.
            if now >= expires:
                await safe_delete(self._cache, domain)
            return False
        if current_id == entry.policy_id and expires - now > self._config.mtasts_refresh_margin:
            return False
        try:
            text = await self._fetcher.fetch(domain)
            policy = parse_policy(text, max_max_age=self._config.mtasts_max_max_age)
        except MtaStsError as exc:
            log.warning("tls policy: %s: MTA-STS refresh failed (%s); keeping last good policy id %s",
                        domain, exc, entry.policy_id)
            return False
        await safe_set(self._cache, domain, CacheEntry(fetched_at=self._clock(), policy_id=current_id, policy=policy))
        log.info("tls policy: %s: MTA-STS policy refreshed (id %s → %s)", domain, entry.policy_id, current_id)
        return True
