"""Open the store for the summary, by `[store] backend`: read-only for the CLI, read-write
for the daemon's jobs. SQLite: a table that is not there yet (a new install, a reader that
never ran) is stood in for by an empty TEMP table, and named, so the report says what it
could not see. PostgreSQL (pg_source.py): the store's own tables, made by the daemon's
migrations; a database without them yet gives an empty report (an in-memory stand-in).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreError
from ..policy import StoreSettings
from ..store import schema as store_schema
from .deliveries_schema import DDL, INSERT_POLL, insert_deliveries
from .queries import Query, SqliteQuery

_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS (\w+)")


def _tables(ddl: str) -> dict[str, str]:
    out = {}
    for stmt in ddl.split(";"):
        if m := _TABLE.search(stmt):
            out[m[1]] = stmt.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE", 1)
    return out


def store_tables_ddl() -> str:
    """The store's tables as its migrations leave them (columns added later included)."""
    statements = [s for version in range(1, len(store_schema.MIGRATIONS) + 1)
                  for s in store_schema.statements(version, store_schema.SQLITE_TYPES)]
    creates = {m[1]: s for s in statements if (m := re.search(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", s))}
    for s in statements:  # fold ALTER TABLE ... ADD COLUMN into the CREATE
        if (m := re.match(r"ALTER TABLE (\w+) ADD COLUMN (.*)", s)) and m[1] in creates:
            creates[m[1]] = creates[m[1]].rstrip().rstrip(")") + f", {m[2]})"
    return ";\n".join(c.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1)
                       if "IF NOT EXISTS" not in c else c for c in creates.values())


NEEDED = {**_tables(store_tables_ddl()), **_tables(DDL)}


async def stand_in(db: aiosqlite.Connection) -> list[str]:
    """Create an empty TEMP table for every needed one that is missing; return their names."""
    async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cur:
        present = {row[0] for row in await cur.fetchall()}
    missing = [name for name in NEEDED if name not in present]
    for name in missing:
        await db.execute(NEEDED[name].replace("REFERENCES messages(id) ON DELETE CASCADE", ""))
    return missing


async def open_for_jobs(path: Path) -> aiosqlite.Connection:
    """The daemon's: its own tables created for real, the store's stood in until it has them."""
    db = await aiosqlite.connect(path, timeout=30.0)
    await db.executescript(DDL)
    await stand_in(db)
    return db


async def open_readonly(path: Path) -> tuple[aiosqlite.Connection, list[str], bool]:
    """The CLI's: never creates or changes the store. Returns (db, missing tables, exists)."""
    if not Path(path).exists():
        db = await aiosqlite.connect(":memory:")
        return db, await stand_in(db), False
    db = await aiosqlite.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30.0)
    return db, await stand_in(db), True


def describe(settings: StoreSettings) -> str:
    """The store, for messages: the SQLite path, or the PostgreSQL database and host only."""
    if settings.backend == "postgresql":
        from .pg_source import where

        return where(settings.conninfo)
    return str(settings.path)


@asynccontextmanager
async def report_query(settings: StoreSettings, *, readonly: bool) -> AsyncIterator[tuple[Query, list[str], bool]]:
    """(the Query, the tables stood in for, whether the store exists) for one report."""
    if settings.backend == "postgresql":
        from .pg_source import PgQuery, connect, missing_tables

        conn = await connect(settings, readonly=readonly)
        try:
            missing = await missing_tables(conn)
            if not missing:
                yield PgQuery(conn), [], True
                return
        finally:
            await conn.close()
        if not readonly:  # the daemon migrates the store before its jobs run: retried later
            raise StoreError(f"the store ({describe(settings)}) has no {', '.join(missing)} table yet")
        db = await aiosqlite.connect(":memory:")
        try:
            yield SqliteQuery(db), await stand_in(db), False
        finally:
            await db.close()
        return
    if readonly:
        db, missing, exists = await open_readonly(settings.path)
    else:
        db, missing, exists = await open_for_jobs(settings.path), [], True
    try:
        yield SqliteQuery(db), missing, exists
    finally:
        await db.close()


async def write_poll(settings: StoreSettings, deliveries: Iterable[Any], lines: int, unparsed: int,
                     now: float) -> None:
    """The delivery-log reader's rows and its poll's counts, in one transaction."""
    if settings.backend == "postgresql":
        from . import pg_source

        await pg_source.write_poll(settings, pg_source.rows_of(deliveries), (now, lines, unparsed))
        return
    db = await open_for_jobs(settings.path)
    try:
        await insert_deliveries(db, deliveries)
        await db.execute(INSERT_POLL, (now, lines, unparsed))
        await db.commit()
    finally:
        await db.close()
