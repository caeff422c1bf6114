"""The summary's queries and the delivery-log reader's writes on a shared PostgreSQL store.

`PgQuery` is the report's `Query` over a psycopg 3 AsyncConnection. It runs the dialect's
text through a raw cursor, whose placeholders are PostgreSQL's own `$1, $2, ...` (what
`POSTGRESQL.sql` makes of `?`), so a `%` in the SQL (`LIKE '%"spam"%'`) needs no escaping.
Connections are short (one per report or per poll), autocommit, never prepared server-side
(PgBouncer in transaction mode); the CLI's is read-only. The tables are the store's own,
created by the daemon's migrations (store/schema.py): this module never creates any.
The conninfo is never logged or shown: errors name the database and its host only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import AsyncRawCursor

from ..errors import StoreError
from ..policy import StoreSettings
from .deliveries_schema import INSERT, INSERT_POLL
from .queries import POSTGRESQL

TABLES = ("messages", "recipients", "deliveries", "maillog_polls")


def where(conninfo: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    return f"postgresql database {params.get('dbname', '?')} on {params.get('host', 'localhost')}"


class PgQuery:
    """Over a psycopg AsyncConnection (autocommit)."""

    dialect = POSTGRESQL

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.conn = conn

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with AsyncRawCursor(self.conn) as cur:
            await cur.execute(sql, params or None)
            return [tuple(row) for row in await cur.fetchall()]


async def connect(settings: StoreSettings, *, readonly: bool) -> psycopg.AsyncConnection[Any]:
    try:
        conn = await psycopg.AsyncConnection.connect(
            settings.conninfo, autocommit=True, prepare_threshold=None,
            connect_timeout=max(2, math.ceil(settings.connect_timeout)),
            application_name="privacy-milter-summary")
        if readonly:
            await conn.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        raise StoreError(f"cannot open the store ({where(settings.conninfo)}): {_reason(exc)}") from None
    return conn


async def missing_tables(conn: psycopg.AsyncConnection[Any]) -> list[str]:
    """The report's tables not (yet) in the schemas on the search path."""
    cur = await conn.execute("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = ANY (current_schemas(false))")
    present = {row[0] for row in await cur.fetchall()}
    return [t for t in TABLES if t not in present]


async def write_poll(settings: StoreSettings, rows: Sequence[tuple[Any, ...]], poll: tuple[Any, ...]) -> None:
    """The delivery rows and the poll's counts, in one transaction."""
    conn = await connect(settings, readonly=False)
    try:
        async with conn.transaction(), conn.cursor() as cur:
            if rows:
                await cur.executemany(_pg(INSERT), rows)
            await cur.execute(_pg(INSERT_POLL), poll)
    except psycopg.Error as exc:
        raise StoreError(f"store write failed ({where(settings.conninfo)}): {_reason(exc)}") from None
    finally:
        await conn.close()


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def rows_of(deliveries: Iterable[Any]) -> list[tuple[Any, ...]]:
    from .deliveries_schema import delivery_row

    return [delivery_row(d) for d in deliveries]
