"""SQLite backend (aiosqlite, WAL): one file, mode 0600, one transaction per batch.

The embedded default for a single host. Several daemons must not share one file (SQLite's
locking does not suit several writers): use the PostgreSQL backend for that.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiosqlite

from .. import hostname
from ..errors import StoreError
from . import schema as q
from .base import Record
from .backend import (Backend, KeyMismatchError, Stats, StoredRecipient, StoredRecord, count_categories,
                      health_report, record_row, stored_record)
from .health import Health

log = logging.getLogger("privacy_milter.store")


class SqliteBackend(Backend):
    name = "sqlite"

    def __init__(self, path: Path, *, host: str | None = None) -> None:
        self.path = Path(path)
        self.host = host or hostname.best_effort()
        self._db: aiosqlite.Connection | None = None
        self._file: tuple[int, int] | None = None  # (device, inode) of the file opened

    @property
    def is_open(self) -> bool:
        return self._db is not None

    async def open(self, key_fingerprint: str | None, *, daemon: bool) -> None:
        try:
            self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does; its -wal and -shm files copy this mode.
            # O_EXCL: never open()+close() a database this process may already hold open
            # through SQLite (see store/policycache.py); the close would drop its locks.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            os.chmod(self.path, 0o600)
            st = os.stat(self.path)
            self._file = (st.st_dev, st.st_ino)
            self._db = await aiosqlite.connect(self.path, isolation_level=None)  # we BEGIN ourselves
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA foreign_keys=ON")
            await self._db.execute("PRAGMA busy_timeout=5000")
            await self._migrate()
            await self._check_key(key_fingerprint)
        except (StoreError, KeyMismatchError):
            await self.close()
            raise
        except (OSError, aiosqlite.Error) as exc:
            await self.close()
            raise StoreError(f"cannot open the store {self.path}: {_reason(exc)}") from None

    async def _migrate(self) -> None:
        db = self._need()
        await db.execute("BEGIN IMMEDIATE")
        try:
            await db.execute(q.VERSION_TABLE.format(**q.SQLITE_TYPES))
            version = await self._one(q.CURRENT_VERSION, ())
            if version > len(q.MIGRATIONS):
                raise StoreError(f"the store {self.path} has schema version {version}, newer than this "
                                 f"privacy-milter knows ({len(q.MIGRATIONS)}): upgrade privacy-milter")
            for n in range(version + 1, len(q.MIGRATIONS) + 1):
                for statement in q.statements(n, q.SQLITE_TYPES):
                    await db.execute(statement)
                await db.execute(q.RECORD_VERSION, (n, time.time()))
                log.info("store: %s migrated to schema version %d", self.path, n)
            await db.execute("COMMIT")
        except BaseException:
            await self._rollback()
            raise

    async def _check_key(self, fingerprint: str | None) -> None:
        if fingerprint is None:
            return
        db = self._need()
        await db.execute(q.PUT_META, (q.KEY_NAME, fingerprint))  # autocommit: the first key wins
        stored = await self._one(q.GET_META, (q.KEY_NAME,))
        if stored != fingerprint:
            raise KeyMismatchError(q.mismatch_text(str(self.path)))

    async def _check_file(self) -> None:
        """SQLite keeps writing to a file deleted (or replaced) under it, and those records
        would be gone at the next start: notice, close, and let the writer open the path anew."""
        try:
            st = os.stat(self.path)
            same = (st.st_dev, st.st_ino) == self._file
        except OSError:
            same = False
        if not same:
            await self.close()
            raise StoreError(f"the store {self.path} was deleted or replaced under the daemon; "
                             "a new one is opened at that path")

    async def write_batch(self, records: Sequence[Record], health: Health | None) -> None:
        await self._check_file()
        try:
            await self._write(records, health)
        except BaseException as exc:  # cancelled mid-write too: end the transaction, write nothing
            await self._rollback()
            if isinstance(exc, aiosqlite.Error):
                raise StoreError(f"store write failed: {_reason(exc)}") from None
            raise

    async def _write(self, records: Sequence[Record], health: Health | None) -> None:
        """One transaction, two statements. Ids are numbered here, under the write lock
        BEGIN IMMEDIATE takes, so recipients refer to their message without a round trip each."""
        db = self._need()
        await db.execute("BEGIN IMMEDIATE")
        first = int(await self._one("SELECT COALESCE(MAX(id), 0) FROM messages", ())) + 1
        await db.executemany(q.INSERT_MESSAGE, [(first + i, *record_row(r, self.host))
                                                for i, r in enumerate(records)])
        await db.executemany(q.INSERT_RECIPIENT, [(first + i, domain, h) for i, r in enumerate(records)
                                                  for domain, h in r.recipients])
        if health is not None:  # the health row rides in the same transaction
            await db.execute(q.UPSERT_HEALTH, health.row(time.time(), self.host))
        await db.execute("COMMIT")

    async def write_health(self, health: Health) -> None:
        await self._guard(self._need().execute(q.UPSERT_HEALTH, health.row(time.time(), self.host)))

    async def purge(self, before: float) -> int:
        cursor = await self._guard(self._need().execute(q.PURGE, (before,)))
        for statement in q.PURGE_ALSO:
            await self._guard(self._need().execute(statement, (before,)))
        return int(cursor.rowcount)

    async def stats(self, since: float | None) -> Stats:
        where, args = ("WHERE time >= ?", (since,)) if since is not None else ("", ())
        queries = q.stats_queries(where)
        db = self._need()
        async with db.execute(queries["totals"], args) as cur:
            row = await cur.fetchone()
        groups: dict[str, dict[str, int]] = {}
        for column in ("direction", "action", "tls_version", "host"):
            async with db.execute(queries[column], args) as cur:
                groups[column] = {key or "none": n for key, n in await cur.fetchall()}
        async with db.execute(queries["findings"], args) as cur:
            categories = count_categories(list(await cur.fetchall()))
        async with db.execute(q.SELECT_HEALTH, (self.host,)) as cur:
            health = await cur.fetchone()
        return Stats(messages=row[0] if row else 0, bytes=row[1] if row else 0, direction=groups["direction"],
                     action=groups["action"], tls_version=groups["tls_version"],
                     messages_with_findings=categories, store=health_report(health) if health else None,
                     hosts=groups["host"])

    async def find_address(self, address_hash: str) -> list[StoredRecord]:
        db = self._need()
        async with db.execute(q.FIND, (address_hash, address_hash)) as cur:
            rows = list(await cur.fetchall())
        out = []
        for row in rows:
            async with db.execute(q.FIND_RECIPIENTS, (row[0],)) as cur:
                recipients = [StoredRecipient(d, h) for d, h in await cur.fetchall()]
            out.append(stored_record(row, recipients))
        return out

    async def records_after(self, after_id: int, limit: int) -> list[StoredRecord]:
        """Records in id order, for `store migrate`."""
        db = self._need()
        sql = f"SELECT id, {', '.join(q.MESSAGE_COLUMNS)} FROM messages WHERE id > ? ORDER BY id LIMIT ?"
        async with db.execute(sql, (after_id, limit)) as cur:
            rows = list(await cur.fetchall())
        out = []
        for row in rows:
            async with db.execute(q.FIND_RECIPIENTS, (row[0],)) as cur:
                out.append(stored_record(row, [StoredRecipient(d, h) for d, h in await cur.fetchall()]))
        return out

    async def forget_address(self, address_hash: str) -> int:
        cursor = await self._guard(self._need().execute(q.FORGET, (address_hash, address_hash)))
        return int(cursor.rowcount)

    async def last_run(self, job: str) -> str | None:
        value = await self._one(q.LAST_RUN, (job,))
        return None if value is None else str(value)

    async def record_run(self, job: str, period: str, when: float) -> None:
        await self._guard(self._need().execute(q.RECORD_RUN, (job, period, self.host, when, when)))

    async def record_event(self, kind: str, count: int, when: float) -> None:
        await self._guard(self._need().execute(q.RECORD_EVENT, (when, self.host, kind, count)))

    async def claim_run(self, job: str, period: str, host: str, when: float) -> bool:
        cursor = await self._guard(self._need().execute(q.CLAIM_RUN, (job, period, host, when)))
        return int(cursor.rowcount) == 1

    async def query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async def rows() -> list[tuple[Any, ...]]:
            async with self._need().execute(sql, args) as cur:
                return [tuple(r) for r in await cur.fetchall()]
        return list(await self._guard(rows()))

    async def execute(self, sql: str, args: tuple[Any, ...]) -> int:
        return int((await self._guard(self._need().execute(sql, args))).rowcount)

    async def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(aiosqlite.Error):
                await db.close()

    # --- helpers -----------------------------------------------------------------------

    async def _guard(self, operation: Any) -> Any:
        try:
            return await operation
        except aiosqlite.Error as exc:
            raise StoreError(f"store operation failed: {_reason(exc)}") from None

    async def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        async with self._need().execute(sql, args) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def _rollback(self) -> None:
        if self._db is not None and self._db.in_transaction:
            try:
                await self._db.execute("ROLLBACK")
            except aiosqlite.Error as exc:
                log.error("store: rollback failed: %s", exc)

    def _need(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db


def _reason(exc: BaseException) -> str:
    """SQLite's or the OS's words for a failure (never anything from a record)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__

