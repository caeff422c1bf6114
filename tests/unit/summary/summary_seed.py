"""Two weeks (2026-W47, W48 in Europe/London) of synthetic records and delivery rows with
known figures, written through the real SqliteStore, plus a DST week (W43, the week of
2026-10-25). Addresses are hashed by the store; the planted local parts must never show."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiosqlite

from privacy_milter.maillog import Delivery
from privacy_milter.store import SqliteStore
from privacy_milter.store.base import Record
from privacy_milter.summary.deliveries_schema import DDL, insert_deliveries

TZ = ZoneInfo("Europe/London")
WEEK, PREV, DST_WEEK = "2026-W48", "2026-W47", "2026-W43"
LOCAL_PARTS = ("alice.secret", "bob.private", "carol.hidden", "dave.quiet")


def t(y: int, mo: int, d: int, h: int = 12, mi: int = 0, s: int = 0, fold: int = 0) -> float:
    return datetime(y, mo, d, h, mi, s, tzinfo=TZ, fold=fold).timestamp()


def rec(when: float, direction: str, sender_domain: str, rcpt_domains: tuple[str, ...], *,
        tls: str = "TLSv1.3", action: str = "accept", findings: tuple[tuple[str, str, int], ...] = (),
        facts: tuple[tuple[str, str], ...] = (), errors: tuple[str, ...] = (), queue_id: str = "Q0") -> Record:
    return Record(time=when, queue_id=queue_id, direction=direction, direction_reason="test",
                  client_addr="192.0.2.1", sender_domain=sender_domain, sender_hash="h" * 32,
                  recipients=tuple((d, "r" * 32) for d in rcpt_domains), size=1000, tls_version=tls,
                  tls_cipher="", action=action, findings=findings, facts=facts, errors=errors)


def dlv(when: float, queue_id: str, domain: str, level: str, version: str | None, policy: str,
        status: str = "sent", reason: str | None = None) -> Delivery:
    return Delivery(datetime.fromtimestamp(when, TZ), queue_id, domain, f"mx.{domain}", level, version,
                    policy, status, "2.0.0" if status == "sent" else "4.7.5", reason, "mx1")


def week48() -> tuple[list[Record], list[Delivery]]:
    ok = (("tls", "TLSv1.3"), ("spam", "no"), ("virus", "clean"))
    r: list[Record] = []
    # inbound: 6 TLSv1.3 to shop (Mon 00:00:00 exactly is inside the week), 2 TLSv1.2 spam to
    # clinic, 1 clear with a virus, 1 tempfail with a spam-scanner error
    r += [rec(t(2026, 11, 23, 0, 0, 0) if i == 0 else t(2026, 11, 24, 9 + i), "inbound", "sender.example",
              ("shop.example",), facts=ok) for i in range(6)]
    r += [rec(t(2026, 11, 25), "inbound", "spammer.example", ("clinic.example",), tls="TLSv1.2",
              action="tag", facts=(("spam", "yes"), ("virus", "clean"))) for _ in range(2)]
    r.append(rec(t(2026, 11, 26), "inbound", "bad.example", ("shop.example",), tls="", action="reject",
                 facts=(("spam", "no"), ("virus", "Eicar-Test-Signature"))))
    r.append(rec(t(2026, 11, 29, 23, 59, 59), "inbound", "sender.example", ("shop.example",),
                 action="tempfail", errors=("spam",)))
    # outbound: 2 iban rejected, 1 card held for TLS, 1 clinic refused for TLS, 5 clean
    r += [rec(t(2026, 11, 24), "outbound", "shop.example", ("far.example",), action="reject",
              findings=(("iban", "high", 1),)) for _ in range(2)]
    r.append(rec(t(2026, 11, 24), "outbound", "shop.example", ("plain.example",), action="quarantine",
                 findings=(("card", "high", 1),), facts=(("flagged_action", "quarantine"),)))
    r.append(rec(t(2026, 11, 25), "outbound", "clinic.example", ("plain.example",), action="reject",
                 findings=(("nino", "medium", 2), ("iban", "high", 1)), facts=(("flagged_action", "reject"),)))
    r += [rec(t(2026, 11, 27), "outbound", "shop.example", ("x.example",), queue_id=f"Q{i}") for i in (1, 2, 3, 4)]
    r.append(rec(t(2026, 11, 27), "outbound", "clinic.example", ("old.example",), queue_id="Q5"))
    r.append(rec(t(2026, 11, 30, 0, 0, 0), "inbound", "late.example", ("shop.example",)))  # next week
    d = [dlv(t(2026, 11, 27, 13), "Q1", "dane.example", "verified", "TLSv1.3", "dane"),
         dlv(t(2026, 11, 27, 13), "Q2", "sts.example", "verified", "TLSv1.3", "mta-sts"),
         dlv(t(2026, 11, 27, 13), "Q2", "plain.example", "clear", None, "opportunistic"),
         dlv(t(2026, 11, 28, 13), "Q3", "opp.example", "encrypted", "TLSv1.2", "opportunistic"),
         dlv(t(2026, 11, 28, 13), "Q4", "plain.example", "clear", None, "opportunistic"),
         dlv(t(2026, 11, 28, 13), "Q5", "old.example", "clear", None, "opportunistic"),
         dlv(t(2026, 11, 28, 14), "Q5", "bad.example", "clear", None, "dane", "deferred", "certificate-expired"),
         dlv(t(2026, 11, 29, 14), "Q6", "strict.example", "clear", None, "pin", "bounced",
             "starttls-not-supported"),
         dlv(t(2026, 11, 30, 0, 0, 1), "Q7", "dane.example", "verified", "TLSv1.3", "dane")]  # next week
    return r, d


def week47() -> tuple[list[Record], list[Delivery]]:
    r = [rec(t(2026, 11, 17), "inbound", "sender.example", ("shop.example",), tls="TLSv1.3" if i < 2 else "")
         for i in range(4)]
    r.append(rec(t(2026, 11, 18), "outbound", "shop.example", ("far.example",), action="reject",
                 findings=(("iban", "high", 1),), queue_id="P1"))
    r.append(rec(t(2026, 11, 18), "outbound", "shop.example", ("far.example",), queue_id="P2"))
    d = [dlv(t(2026, 11, 18, 13), "P2", "far.example", "encrypted", "TLSv1.2", "opportunistic"),
         dlv(t(2026, 11, 18, 13), "P2", "plain.example", "clear", None, "opportunistic")]
    return r, d


def dst_week() -> list[Record]:
    """W43 2026 ends with the clocks going back (Sun 25 Oct 02:00 BST -> 01:00 GMT): 169 hours."""
    times = [t(2026, 10, 18, 23, 30),          # Sun W42 (22:30 UTC): outside
             t(2026, 10, 19, 0, 30),           # Mon W43 00:30 BST = Sun 23:30 UTC
             t(2026, 10, 25, 0, 30),           # Sun 00:30 BST = Sat 23:30 UTC
             t(2026, 10, 25, 1, 30, fold=1),   # Sun 01:30 GMT (the second 01:30)
             t(2026, 10, 25, 23, 30),          # Sun 23:30 GMT
             t(2026, 10, 26, 0, 30)]           # Mon W44: outside
    return [rec(x, "inbound", "sender.example", ("shop.example",)) for x in times]


OLDEST = t(2026, 10, 18, 23, 30)


async def seed(path: Path, *, dst: bool = True) -> None:
    r48, d48 = week48()
    r47, d47 = week47()
    store = SqliteStore(path)
    await store.setup()
    for record in r47 + r48 + (dst_week() if dst else []):
        store.add(record)
    await store.flush()
    await store.close()
    async with aiosqlite.connect(path) as db:
        await db.executescript(DDL)
        await insert_deliveries(db, d47 + d48)
        await db.execute("INSERT INTO maillog_polls (time, lines, unparsed) VALUES (?, ?, ?)",
                         (t(2026, 11, 26), 500, 3))
        await db.execute("INSERT INTO maillog_polls (time, lines, unparsed) VALUES (?, ?, ?)",
                         (t(2026, 11, 19), 100, 9))
        # what the daemon recorded about itself (Runtime: start, reloads, purges; the store writer)
        for when, kind, count in ((t(2026, 11, 23, 4), "start", 1), (t(2026, 11, 24, 9), "reload_ok", 1),
                                  (t(2026, 11, 24, 9, 5), "reload_refused", 1), (t(2026, 11, 25, 9), "reload_ok", 1),
                                  (t(2026, 11, 23, 4, 1), "purge", 120), (t(2026, 11, 24, 4), "purge", 30),
                                  (t(2026, 11, 27, 3), "store_failure", 1), (t(2026, 11, 19, 4), "purge", 999)):
            await db.execute("INSERT INTO events (time, host, kind, count) VALUES (?, 'mx1', ?, ?)",
                             (when, kind, count))
        await db.commit()
