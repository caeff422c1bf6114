"""The records and deliveries of the issue 23 summary figures (flagged mail in clear, the relay's
hop, the inbound relay, failed TLS decisions), shared by test_summary_flagged.py (SQLite) and
test_summary_postgres.py (the same figures on PostgreSQL)."""

from __future__ import annotations

import aiosqlite
from summary_seed import dlv, rec, t  # type: ignore[import-not-found]

from privacy_milter.maillog import Delivery
from privacy_milter.store import SqliteStore
from privacy_milter.summary.deliveries_schema import insert_deliveries

RELAY = "smtp.relay.example"
CARD = (("payment_card", "high", 1),)
ENCRYPT = (("flagged_action", "encrypt"),)


def via(when: float, qid: str, domain: str, level: str, relay: str) -> Delivery:
    d = dlv(when, qid, domain, level, None if level == "clear" else "TLSv1.3", "opportunistic")
    return Delivery(d.time, d.queue_id, d.rcpt_domain, relay, d.tls_level, d.tls_version, d.policy,
                    d.status, d.dsn, d.reason, d.host)


def extras() -> tuple[list, list[Delivery]]:
    day = t(2026, 11, 26)
    r = [rec(day, "outbound", "shop.example", ("far.example",), action="tag", findings=CARD, facts=ENCRYPT,
             queue_id="F1"),
         rec(day, "outbound", "shop.example", ("tls.example",), action="tag", findings=CARD, facts=ENCRYPT,
             queue_id="F2"),
         rec(day, "outbound", "shop.example", ("other.example",), action="tag", findings=CARD, facts=ENCRYPT,
             queue_id="F3"),
         # held for its card, then released by the admin (postsuper -H): still flagged
         rec(day, "outbound", "clinic.example", ("far.example",), action="quarantine", findings=CARD,
             queue_id="F4"),
         rec(day, "outbound", "shop.example", ("far.example",), queue_id="N1"),
         # the TLS decision failed (item 1): the safe action applied instead
         rec(day, "outbound", "shop.example", ("x.example",), action="reject", findings=CARD,
             facts=(("tls_decision", "failed"), ("flagged_action", "reject")), queue_id="D1"),
         rec(day, "outbound", "shop.example", ("y.example",), action="tag", findings=CARD,
             facts=(("tls_decision", "failed"), ("flagged_action", "encrypt")), queue_id="D2"),
         # passed on, but the delivery log never shows it (no queue id: `i` missing from the macros)
         rec(day, "outbound", "shop.example", ("z.example",), action="tag", findings=CARD, facts=ENCRYPT,
             queue_id="NOQUEUE"),
         # inbound for a hosted domain, relayed onward by smtp to its mailbox server
         rec(day, "inbound", "remote.example", ("shop.example",), queue_id="R1")]
    d = [via(day + 60, "F1", "far.example", "clear", "mx.far.example"),
         via(day + 60, "F2", "tls.example", "encrypted", "mx.tls.example"),
         via(day + 60, "F3", "other.example", "clear", RELAY),
         via(day + 60, "F4", "far.example", "clear", "mx.far.example"),
         via(day + 60, "N1", "far.example", "clear", "mx.far.example"),
         via(day + 60, "D2", "y.example", "encrypted", "mx.y.example"),
         via(day + 60, "R1", "shop.example", "clear", "mailbox.internal"),
         via(day + 60, "X1", "clinic.example", "clear", "mailbox.internal")]   # no record at all
    return r, d


async def add(path, records, deliveries) -> None:
    store = SqliteStore(path)
    await store.setup()
    for record in records:
        store.add(record)
    await store.flush()
    await store.close()
    async with aiosqlite.connect(path) as db:
        await insert_deliveries(db, deliveries)
        await db.commit()


HOSTED = ["shop.example", "clinic.example"]
