"""Flagged mail sent in clear text, counted as the delivery-log reader finds it (the metric).

After each poll the reader hands its new deliveries here. The ones sent without TLS are paired
with the store's records by queue id; a record of a flagged message (queries.flagged_sql: DLP
findings acted on, or the tls filter's flagged_action) counts the delivery in
privacy_milter_flagged_clear_deliveries_total, by hop (direct, or to the relayhost). A delivery
whose record is not in the store yet (the writer is behind, the store was down) is asked about
again at the next polls, for up to PENDING_SECONDS; the set waiting is bounded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..maillog import Delivery
from ..maillog.pair import CLEAR
from ..policy import StoreSettings
from .queries import QUEUE_SLACK, flagged_sql
from .source import report_query

log = logging.getLogger("privacy_milter.summary")

PENDING_SECONDS = 3600.0     # a record later than this is not coming (mail that bypassed the milter)
MAX_PENDING = 10_000         # queue ids waiting for their record
BATCH = 500                  # queue ids per query (SQLite's parameter limit is far above)


class FlaggedClearWatch:
    """Call with each poll's deliveries; counts flagged ones sent in clear into `counter`."""

    def __init__(self, store: StoreSettings, counter: Any, relays: frozenset[str] = frozenset(),
                 clock: Callable[[], float] = time.time) -> None:
        self.store, self.counter, self.relays, self.clock = store, counter, relays, clock
        self._pending: dict[str, tuple[float, list[str]]] = {}   # queue id -> (first seen, hops)

    async def __call__(self, deliveries: Sequence[Delivery]) -> int:
        """Pair and count; returns the deliveries counted now."""
        now = self.clock()
        for d in deliveries:
            if d.status == "sent" and d.tls_level == CLEAR:
                seen, hops = self._pending.get(d.queue_id, (now, []))
                hops.append("relay" if d.relay in self.relays else "direct")
                self._pending[d.queue_id] = (seen, hops)
        if not self._pending:
            return 0
        flagged = await self._records(list(self._pending), now)
        counted = 0
        for qid, is_flagged in flagged.items():
            _, hops = self._pending.pop(qid)
            if is_flagged:
                for hop in hops:
                    self.counter.labels(hop).inc()
                counted += len(hops)
        self._expire(now)
        if counted:
            log.warning("maillog: %d delivery(ies) of flagged messages were sent without TLS "
                        "(see the summary's first section)", counted)
        return counted

    async def _records(self, qids: list[str], now: float) -> dict[str, bool]:
        """Queue id -> whether a record of a flagged message has it; absent: no record yet."""
        out: dict[str, bool] = {}
        async with report_query(self.store, readonly=False) as (query, _, _):
            for part in _chunks(qids, BATCH):
                sql = (f"SELECT m.queue_id, MAX(CASE WHEN {flagged_sql(query.dialect)} THEN 1 ELSE 0 END) "
                       f"FROM messages m WHERE m.time >= ? AND m.queue_id IN ({', '.join('?' * len(part))}) "
                       "GROUP BY m.queue_id")
                for qid, flag in await query.fetch(query.dialect.sql(sql), (now - QUEUE_SLACK, *part)):
                    out[str(qid)] = bool(flag)
        return out

    def _expire(self, now: float) -> None:
        for qid in [q for q, (seen, _) in self._pending.items() if now - seen > PENDING_SECONDS]:
            del self._pending[qid]
        while len(self._pending) > MAX_PENDING:            # oldest first (insertion order)
            del self._pending[next(iter(self._pending))]


def _chunks(items: list[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]
