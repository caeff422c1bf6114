"""The tables the summary adds beside the store's: outbound deliveries (from the mail log),
and the delivery-log reader's per-poll counts (once-per-period jobs record their runs in
the store's own job_runs table).

DDL as portable text (SQLite and PostgreSQL: REAL, INTEGER, TEXT, no AUTOINCREMENT) and
inserts with `?` parameters; the lead moves the DDL into the store's migrations. A delivery
row holds only metadata: the recipient's domain, never its local part; the reply's
enhanced status code and a TLS-RPT reason, never the reply text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from ..maillog import Delivery

DDL = """
CREATE TABLE IF NOT EXISTS deliveries (
    time REAL NOT NULL,
    queue_id TEXT NOT NULL,
    rcpt_domain TEXT NOT NULL,
    relay TEXT NOT NULL,
    tls_level TEXT NOT NULL,
    tls_version TEXT NOT NULL,
    policy TEXT NOT NULL,
    status TEXT NOT NULL,
    dsn TEXT NOT NULL,
    reason TEXT NOT NULL,
    host TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries(time);
CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries(queue_id);
CREATE TABLE IF NOT EXISTS maillog_polls (
    time REAL NOT NULL,
    lines INTEGER NOT NULL,
    unparsed INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS maillog_polls_time ON maillog_polls(time);
"""

COLUMNS = ("time", "queue_id", "rcpt_domain", "relay", "tls_level", "tls_version", "policy",
           "status", "dsn", "reason", "host")
INSERT = f"INSERT INTO deliveries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
INSERT_POLL = "INSERT INTO maillog_polls (time, lines, unparsed) VALUES (?, ?, ?)"


class Executor(Protocol):
    """What the inserts need: an aiosqlite connection has it; a PostgreSQL adapter maps `?`."""

    async def executemany(self, sql: str, params: Iterable[tuple[Any, ...]]) -> Any: ...


def _epoch(t: datetime | float) -> float:
    return t.timestamp() if isinstance(t, datetime) else float(t)


def delivery_row(d: Delivery) -> tuple[Any, ...]:
    return (_epoch(d.time), d.queue_id, d.rcpt_domain.lower(), d.relay, d.tls_level,
            d.tls_version or "", d.policy, d.status, d.dsn, d.reason or "", d.host)


async def insert_deliveries(db: Executor, deliveries: Iterable[Delivery]) -> int:
    rows = [delivery_row(d) for d in deliveries]
    if rows:
        await db.executemany(INSERT, rows)
    return len(rows)
