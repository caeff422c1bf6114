"""PostgreSQL backend (psycopg 3 + psycopg_pool): one store shared by several mail servers.

Every record carries the host that wrote it; the schema is migrated by whichever daemon
opens first (under an advisory lock, so two starting together do not race); periodic jobs
claim their period with a unique row, so exactly one host runs each. Statements are never
prepared server-side (`prepare_threshold=None`), so the store works behind PgBouncer in
transaction mode. The connection string never holds a password (policy.py refuses one):
libpq reads it from a passfile. A database that is down is the writer's business: it
buffers and retries, and logs once per state change.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from ..errors import StoreError
from . import schema as q
from .backend import (Backend, KeyMismatchError, Stats, StoredRecipient, StoredRecord, count_categories,
                      health_report, record_row, stored_record)
from .base import Record
from .health import Health

log = logging.getLogger("privacy_milter.store")
# The pool logs every failed reconnection attempt; the writer already logs an outage once
# when it starts and once when it ends, so only the pool's errors are let through.
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

MIGRATION_LOCK = 0x70726976  # pg_advisory_xact_lock key: one daemon migrates at a time


def _pg(sql: str) -> str:
    return sql.replace("?", "%s")


class PostgresBackend(Backend):
    name = "postgresql"
    shared = True

    def __init__(self, conninfo: str, *, host: str, pool_size: int = 4, connect_timeout: float = 5.0) -> None:
        from ..policy import conninfo_problem

        if problem := conninfo_problem(conninfo):
            raise StoreError(f"[store] conninfo {problem}")
        self._conninfo = conninfo  # never logged: see where() for what is
        self.host = host
        self.pool_size = pool_size
        self.connect_timeout = connect_timeout
        self._pool: AsyncConnectionPool | None = None

    def where(self) -> str:
        """The database, for messages: host and dbname only."""
        params = psycopg.conninfo.conninfo_to_dict(self._conninfo)
        return f"postgresql database {params.get('dbname', '?')} on {params.get('host', 'localhost')}"

    @property
    def is_open(self) -> bool:
        return self._pool is not None

    async def open(self, key_fingerprint: str | None, *, daemon: bool) -> None:
        pool = AsyncConnectionPool(
            self._conninfo, min_size=1, max_size=self.pool_size, open=False, timeout=self.connect_timeout,
            kwargs={"autocommit": True, "prepare_threshold": None,
                    "connect_timeout": max(2, math.ceil(self.connect_timeout)),
                    "application_name": "privacy-milter"},
            check=AsyncConnectionPool.check_connection, name="privacy-milter-store")
        try:
            await pool.open(wait=True, timeout=self.connect_timeout)
            self._pool = pool
            await self._migrate()
            await self._check_key(key_fingerprint)
        except BaseException as exc:
            self._pool = None
            await pool.close()
            if isinstance(exc, psycopg.Error):
                raise StoreError(f"cannot open the store ({self.where()}): {_reason(exc)}") from None
            raise

    async def _migrate(self) -> None:
        async with self._need().connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            await conn.execute(q.VERSION_TABLE.format(**q.POSTGRES_TYPES))
            version = int((await (await conn.execute(q.CURRENT_VERSION)).fetchone() or (0,))[0])
            if version > len(q.MIGRATIONS):
                raise StoreError(f"the store ({self.where()}) has schema version {version}, newer than this "
                                 f"privacy-milter knows ({len(q.MIGRATIONS)}): upgrade privacy-milter")
            for n in range(version + 1, len(q.MIGRATIONS) + 1):
                for statement in q.statements(n, q.POSTGRES_TYPES):
                    await conn.execute(statement)
                await conn.execute(_pg(q.RECORD_VERSION), (n, time.time()))
                log.info("store: %s migrated to schema version %d", self.where(), n)

    async def _check_key(self, fingerprint: str | None) -> None:
        if fingerprint is None:
            return
        await self._exec(q.PUT_META, (q.KEY_NAME, fingerprint))  # the first host's key wins
        if await self._one(q.GET_META, (q.KEY_NAME,)) != fingerprint:
            raise KeyMismatchError(q.mismatch_text(f"({self.where()})"))

    async def write_batch(self, records: Sequence[Record], health: Health | None) -> None:
        """One transaction: ids from the sequence in one round trip, then the messages and
        their recipients as two pipelined executemany calls (no round trip per row)."""
        try:
            async with self._need().connection() as conn, conn.transaction(), conn.cursor() as cur:
                if records:
                    await cur.execute("SELECT nextval('messages_id_seq') FROM generate_series(1, %s)",
                                      (len(records),))
                    ids = [row[0] for row in await cur.fetchall()]
                    await cur.executemany(_pg(q.INSERT_MESSAGE),
                                          [(i, *record_row(r, self.host)) for i, r in zip(ids, records)])
                    recipients = [(i, d, h) for i, r in zip(ids, records) for d, h in r.recipients]
                    if recipients:
                        await cur.executemany(_pg(q.INSERT_RECIPIENT), recipients)
                if health is not None:  # the health row rides in the same transaction
                    await cur.execute(_pg(q.UPSERT_HEALTH), health.row(time.time(), self.host))
        except psycopg.Error as exc:
            raise StoreError(f"store write failed ({self.where()}): {_reason(exc)}") from None

    async def write_health(self, health: Health) -> None:
        await self._exec(q.UPSERT_HEALTH, health.row(time.time(), self.host))

    async def purge(self, before: float) -> int:
        removed = await self._exec(q.PURGE, (before,))
        for statement in q.PURGE_ALSO:
            await self._exec(statement, (before,))
        return removed

    async def stats(self, since: float | None) -> Stats:
        where, args = ("WHERE time >= %s", (since,)) if since is not None else ("", ())
        queries = q.stats_queries(where)
        try:
            async with self._need().connection() as conn:
                totals = await (await conn.execute(queries["totals"], args)).fetchone()
                groups: dict[str, dict[str, int]] = {}
                for column in ("direction", "action", "tls_version", "host"):
                    rows = await (await conn.execute(queries[column], args)).fetchall()
                    groups[column] = {key or "none": int(n) for key, n in rows}
                findings = await (await conn.execute(queries["findings"], args)).fetchall()
                health = await (await conn.execute(_pg(q.SELECT_HEALTH), (self.host,))).fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"store query failed ({self.where()}): {_reason(exc)}") from None
        return Stats(messages=int(totals[0]) if totals else 0, bytes=int(totals[1]) if totals else 0,
                     direction=groups["direction"], action=groups["action"], tls_version=groups["tls_version"],
                     messages_with_findings=count_categories(findings),
                     store=health_report(health) if health else None, hosts=groups["host"])

    async def find_address(self, address_hash: str) -> list[StoredRecord]:
        try:
            async with self._need().connection() as conn:
                rows = await (await conn.execute(_pg(q.FIND), (address_hash, address_hash))).fetchall()
                out = []
                for row in rows:
                    recipients = await (await conn.execute(_pg(q.FIND_RECIPIENTS), (row[0],))).fetchall()
                    out.append(stored_record(row, [StoredRecipient(d, h) for d, h in recipients]))
        except psycopg.Error as exc:
            raise StoreError(f"store query failed ({self.where()}): {_reason(exc)}") from None
        return out

    async def forget_address(self, address_hash: str) -> int:
        return await self._exec(q.FORGET, (address_hash, address_hash))

    async def last_run(self, job: str) -> str | None:
        value = await self._one(q.LAST_RUN, (job,))
        return None if value is None else str(value)

    async def record_run(self, job: str, period: str, when: float) -> None:
        await self._exec(q.RECORD_RUN, (job, period, self.host, when, when))

    async def record_event(self, kind: str, count: int, when: float) -> None:
        await self._exec(q.RECORD_EVENT, (when, self.host, kind, count))

    async def claim_run(self, job: str, period: str, host: str, when: float) -> bool:
        return await self._exec(q.CLAIM_RUN, (job, period, host, when)) == 1

    async def query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        try:
            async with self._need().connection() as conn:
                return [tuple(r) for r in await (await conn.execute(_pg(sql), args)).fetchall()]
        except psycopg.Error as exc:
            raise StoreError(f"store query failed ({self.where()}): {_reason(exc)}") from None

    async def execute(self, sql: str, args: tuple[Any, ...]) -> int:
        return await self._exec(sql, args)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    # --- helpers -----------------------------------------------------------------------

    async def _exec(self, sql: str, args: tuple[Any, ...]) -> int:
        try:
            async with self._need().connection() as conn:
                cursor = await conn.execute(_pg(sql), args)
                return int(cursor.rowcount)
        except psycopg.Error as exc:
            raise StoreError(f"store operation failed ({self.where()}): {_reason(exc)}") from None

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        try:
            async with self._need().connection() as conn:
                row = await (await conn.execute(_pg(sql), args)).fetchone()
        except psycopg.Error as exc:
            raise StoreError(f"store query failed ({self.where()}): {_reason(exc)}") from None
        return row[0] if row else None

    def _need(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool


def _reason(exc: BaseException) -> str:
    """The server's or libpq's first line (no record data is ever in our statements' text)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
