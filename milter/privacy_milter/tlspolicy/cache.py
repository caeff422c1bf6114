"""Where MTA-STS policies are remembered between lookups.

The resolver talks to a small abstract class so the daemon can plug a store-backed
cache in; a failing cache is logged and survived (`safe_get`/`safe_set`): the answer
then comes from the network, never from an exception.
"""

from __future__ import annotations

import abc
import logging
from collections import OrderedDict
from dataclasses import dataclass

from privacy_milter.tlspolicy.model import MtaStsPolicy

log = logging.getLogger("privacy_milter.tlspolicy")


@dataclass(frozen=True)
class CacheEntry:
    """One domain's MTA-STS policy as last fetched."""

    fetched_at: float  # time.time() of the successful fetch
    policy_id: str  # the `id=` of the TXT record the policy was fetched under
    policy: MtaStsPolicy

    def expires_at(self, min_max_age: int = 0) -> float:
        return self.fetched_at + max(self.policy.max_age, min_max_age)


class PolicyCache(abc.ABC):
    """Domain (lower-case A-label, no trailing dot) → CacheEntry."""

    async def setup(self) -> None:
        """Open connections, create tables. Called once by TlsPolicyService.start()."""

    @abc.abstractmethod
    async def get(self, domain: str) -> CacheEntry | None: ...

    @abc.abstractmethod
    async def set(self, domain: str, entry: CacheEntry) -> None: ...

    @abc.abstractmethod
    async def delete(self, domain: str) -> None: ...

    @abc.abstractmethod
    async def scan(self, after: str | None, limit: int) -> list[tuple[str, CacheEntry]]:
        """Up to `limit` entries whose domain sorts after `after` (None: from the start),
        in domain order: the refresher walks the cache in pages with it."""

    async def teardown(self) -> None:
        """Close what setup opened. Called once by TlsPolicyService.stop()."""


class MemoryPolicyCache(PolicyCache):
    """A bounded LRU in this process; lost at restart (policies are simply fetched again)."""

    def __init__(self, size: int = 10000) -> None:
        if size < 1:
            raise ValueError("cache size must be at least 1")
        self._size = size
        self._data: OrderedDict[str, CacheEntry] = OrderedDict()

    async def get(self, domain: str) -> CacheEntry | None:
        entry = self._data.get(domain)
        if entry is not None:
            self._data.move_to_end(domain)
        return entry

    async def set(self, domain: str, entry: CacheEntry) -> None:
        self._data[domain] = entry
        self._data.move_to_end(domain)
        while len(self._data) > self._size:
            self._data.popitem(last=False)

    async def delete(self, domain: str) -> None:
        self._data.pop(domain, None)

    async def scan(self, after: str | None, limit: int) -> list[tuple[str, CacheEntry]]:
        keys = sorted(k for k in self._data if after is None or k > after)[:limit]
        return [(k, self._data[k]) for k in keys]

    def __len__(self) -> int:
        return len(self._data)


async def safe_get(cache: PolicyCache, domain: str) -> CacheEntry | None:
    try:
        return await cache.get(domain)
    except Exception:  # any backend failure is a cache miss
        log.exception("tls policy cache: get %s failed; treated as a miss", domain)
        return None


async def safe_set(cache: PolicyCache, domain: str, entry: CacheEntry) -> None:
    try:
        await cache.set(domain, entry)
    except Exception:  # a failed write only costs a later refetch
        log.exception("tls policy cache: set %s failed; policy not remembered", domain)


async def safe_delete(cache: PolicyCache, domain: str) -> None:
    try:
        await cache.delete(domain)
    except Exception:
        log.exception("tls policy cache: delete %s failed", domain)


async def safe_scan(cache: PolicyCache, after: str | None, limit: int) -> list[tuple[str, CacheEntry]]:
    try:
        return await cache.scan(after, limit)
    except Exception:
        log.exception("tls policy cache: scan failed; refresh pass stopped")
        return []
