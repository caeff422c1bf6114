"""SQLite backend (aiosqlite, WAL): one file, mode 0600, written in batches off the hot path."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiosqlite

from ..errors import StoreError
from .base import Record, Store
from .health import HEARTBEAT, Health
from .health import SCHEMA as HEALTH_SCHEMA
from .health import SELECT as HEALTH_SELECT
from .health import UPSERT as HEALTH_UPSERT
from .health import from_row as health_from_row

log = logging.getLogger("privacy_milter.store")

# Past this many unwritten records (the disk is full, say), new ones are counted and
# dropped rather than letting memory grow without bound; the count is logged.
MAX_PENDING = 100_000
RETRY_FIRST = 1.0   # seconds before retrying a failed write or open; doubled per failure
RETRY_MAX = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    queue_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    direction_reason TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    sender_domain TEXT NOT NULL,
    sender_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    tls_version TEXT NOT NULL,
    tls_cipher TEXT NOT NULL,
    action TEXT NOT NULL,
    findings TEXT NOT NULL,
    facts TEXT NOT NULL,
    errors TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_time ON messages(time);
CREATE INDEX IF NOT EXISTS messages_sender ON messages(sender_hash);
CREATE TABLE IF NOT EXISTS recipients (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    domain TEXT NOT NULL,
    address_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS recipients_message ON recipients(message_id);
CREATE INDEX IF NOT EXISTS recipients_hash ON recipients(address_hash);
"""

_COLUMNS = ("time", "queue_id", "direction", "direction_reason", "client_addr", "sender_domain",
            "sender_hash", "size", "tls_version", "tls_cipher", "action", "findings", "facts", "errors")
_INSERT = f"INSERT INTO messages (id, {', '.join(_COLUMNS)}) VALUES (?, {', '.join('?' * len(_COLUMNS))})"


def _row(record: Record) -> tuple[Any, ...]:
    return (record.time, record.queue_id, record.direction, record.direction_reason,
            record.client_addr, record.sender_domain, record.sender_hash, record.size,
            record.tls_version, record.tls_cipher, record.action,
            json.dumps([list(f) for f in record.findings]),
            json.dumps(dict(record.facts)),
            json.dumps(list(record.errors)))


class SqliteStore(Store):
    """`setup` (the CLI) fails if the file cannot be opened; `start` (the daemon) never does:
    records are kept in memory (up to MAX_PENDING) and opening, like a failed write, is
    retried with backoff. A failure is logged when it starts and when it ends, not per try."""

    def __init__(self, path: Path, *, batch_size: int = 500, flush_interval: float = 0.2,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.clock = clock
        self.health = Health(pid=os.getpid())
        self._db: aiosqlite.Connection | None = None
        self._pending: list[Record] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._reports = False          # only the daemon's store keeps the health row
        self._health_written = 0.0     # monotonic time of the last health write
        self._backoff = 0.0
        self._retry_at = 0.0           # monotonic: no write or open is tried before this
        self._dropped_in_episode = 0

    async def setup(self) -> None:
        await self._open()
        self._task = asyncio.create_task(self._flush_loop(), name="store-flush")

    async def start(self) -> None:
        self._reports = True
        try:
            await self._open()
        except StoreError as exc:
            self._failed(str(exc))
        self._task = asyncio.create_task(self._flush_loop(), name="store-flush")

    async def _open(self) -> None:
        try:
            self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            # Create the file 0600 before SQLite does; its -wal and -shm files copy this mode.
            # O_EXCL: never open()+close() a database this process may already hold open
            # through SQLite (see store/policycache.py); the close would drop its locks.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
            os.chmod(self.path, 0o600)
            self._db = await aiosqlite.connect(self.path)
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
            await self._db.execute("PRAGMA foreign_keys=ON")
            await self._db.executescript(SCHEMA + HEALTH_SCHEMA)
            if self._reports:  # stats can tell at once that a daemon writes here
                await self._db.execute(HEALTH_UPSERT, self.health.row(self.clock()))
            await self._db.commit()
            self._health_written = time.monotonic()
        except (OSError, aiosqlite.Error) as exc:
            if self._db is not None:
                with contextlib.suppress(aiosqlite.Error):
                    await self._db.close()
                self._db = None
            raise StoreError(f"cannot open the store {self.path}: {_reason(exc)}") from None

    def add(self, record: Record) -> None:
        if len(self._pending) >= MAX_PENDING:
            if not self._dropped_in_episode:
                log.error("store: %d records wait to be written: new records are dropped (and counted) "
                          "until the store works again", MAX_PENDING)
            self._dropped_in_episode += 1
            self.health.dropped += 1
            return
        self._pending.append(record)
        if len(self._pending) % self.batch_size == 0:
            self._wake.set()

    def _failed(self, error: str) -> None:
        """A write or open failed: keep everything, back off, log only the start of a failure."""
        self.health.last_error, self.health.last_error_time = error, self.clock()
        self.health.pending = len(self._pending)
        self._backoff = min(RETRY_MAX, self._backoff * 2) if self._backoff else RETRY_FIRST
        self._retry_at = time.monotonic() + self._backoff
        if self.health.failing_since is not None:
            log.debug("store: still failing (%s); next try in %gs", error, self._backoff)
        else:
            self.health.failing_since = self.health.last_error_time
            log.error("%s; records are kept in memory (up to %d) and written once the store works "
                      "again; retrying with backoff up to %gs", error, MAX_PENDING, RETRY_MAX)

    def _recovered(self, written: int) -> None:
        if self.health.failing_since is not None:
            log.warning("store: writing again after %.0fs of failure: %d record(s) written, %d dropped, "
                        "%d still pending", self.clock() - self.health.failing_since, written,
                        self._dropped_in_episode, len(self._pending))
            self.health.failing_since = None
            self._dropped_in_episode = 0
        self._backoff = 0.0
        self._retry_at = 0.0

    async def _flush_loop(self) -> None:
        while not self._closing:
            try:
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if time.monotonic() < self._retry_at:
                continue
            try:
                await self.flush()
            except StoreError as exc:
                self._failed(str(exc))
            except Exception as exc:  # never let the writer die: records would pile up unwritten
                log.exception("store: unexpected error while writing")
                self._failed(f"store write failed: {type(exc).__name__}")

    async def flush(self) -> None:
        async with self._lock:
            heartbeat = self._reports and time.monotonic() - self._health_written >= HEARTBEAT
            if not self._pending and not heartbeat:
                return
            if self._db is None:
                await self._open()
            batch, self._pending = self._pending, []
            try:
                await self._write(batch)
            except BaseException as exc:  # cancelled mid-write too: keep the batch, end the transaction
                self._pending[:0] = batch  # nothing lost: retried on the next flush
                await self._rollback()
                if isinstance(exc, aiosqlite.Error):
                    raise StoreError(f"store write failed: {_reason(exc)}") from None
                raise
            self.health.written += len(batch)
            self.health.pending = len(self._pending)
            if batch:
                self.health.last_write = self.clock()
            self._recovered(len(batch))

    async def _write(self, batch: list[Record]) -> None:
        """A whole batch in one transaction and two statements. Ids are numbered here, under
        the write lock BEGIN IMMEDIATE takes, so recipients can refer to their message
        without a round trip per message to learn its rowid."""
        db = self._need_db()
        await db.execute("BEGIN IMMEDIATE")
        async with db.execute("SELECT COALESCE(MAX(id), 0) FROM messages") as cur:
            row = await cur.fetchone()
        first = int(row[0]) + 1 if row else 1
        await db.executemany(_INSERT, [(first + i, *_row(r)) for i, r in enumerate(batch)])
        await db.executemany(
            "INSERT INTO recipients (message_id, domain, address_hash) VALUES (?, ?, ?)",
            [(first + i, domain, h) for i, r in enumerate(batch) for domain, h in r.recipients])
        if self._reports:  # the health row rides in the same transaction: one statement more
            now = self.clock()
            after = replace(self.health, pending=len(self._pending), written=self.health.written + len(batch),
                            last_write=now if batch else self.health.last_write,
                            failing_since=None)
            await db.execute(HEALTH_UPSERT, after.row(now))
        await db.commit()
        if self._reports:
            self._health_written = time.monotonic()

    async def _rollback(self) -> None:
        if self._db is not None and self._db.in_transaction:
            try:
                await self._db.rollback()
            except aiosqlite.Error as exc:
                log.error("store: rollback failed: %s", exc)

    async def purge(self, before: float) -> int:
        if self._db is None:  # failing since start-up: the writer retries; do not try out of turn
            raise StoreError("the store is not open (see the error logged when it failed); purge postponed")
        await self.flush()
        async with self._lock:
            db = self._need_db()
            cursor = await db.execute("DELETE FROM messages WHERE time < ?", (before,))
            await db.commit()
            return cursor.rowcount

    async def stats(self, since: float | None = None) -> dict[str, Any]:
        await self.flush()
        db = self._need_db()
        where, args = ("WHERE time >= ?", (since,)) if since is not None else ("", ())
        out: dict[str, Any] = {}
        async with db.execute(f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages {where}", args) as cur:
            row = await cur.fetchone()
            out["messages"], out["bytes"] = (row[0], row[1]) if row else (0, 0)
        for column in ("direction", "action", "tls_version"):
            async with db.execute(f"SELECT {column}, COUNT(*) FROM messages {where} GROUP BY {column}",
                                  args) as cur:
                out[column] = {key or "none": n for key, n in await cur.fetchall()}
        categories: dict[str, int] = {}
        async with db.execute(f"SELECT findings FROM messages {where}", args) as cur:
            async for (findings,) in cur:
                for category, _confidence, _count in json.loads(findings):
                    categories[category] = categories.get(category, 0) + 1
        out["messages_with_findings"] = categories
        async with db.execute(HEALTH_SELECT) as cur:
            row = await cur.fetchone()
        out["store"] = health_from_row(row) if row else None
        return out

    async def find_address(self, address_hash: str) -> list[dict[str, Any]]:
        await self.flush()
        db = self._need_db()
        db.row_factory = aiosqlite.Row
        try:
            async with db.execute(
                "SELECT * FROM messages WHERE sender_hash = ? OR id IN "
                "(SELECT message_id FROM recipients WHERE address_hash = ?) ORDER BY time",
                (address_hash, address_hash)) as cur:
                rows = [dict(r) for r in await cur.fetchall()]
            for row in rows:
                async with db.execute("SELECT domain, address_hash FROM recipients WHERE message_id = ?",
                                      (row["id"],)) as cur:
                    row["recipients"] = [dict(r) for r in await cur.fetchall()]
        finally:
            db.row_factory = None
        return rows

    async def forget_address(self, address_hash: str) -> int:
        await self.flush()
        async with self._lock:
            db = self._need_db()
            cursor = await db.execute(
                "DELETE FROM messages WHERE sender_hash = ? OR id IN "
                "(SELECT message_id FROM recipients WHERE address_hash = ?)",
                (address_hash, address_hash))
            await db.commit()
            return cursor.rowcount

    async def close(self) -> None:
        if self._task is not None:
            # Let a write in progress finish rather than cancel it half-way.
            self._closing = True
            self._wake.set()
            try:
                async with asyncio.timeout(30):
                    await self._task
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self._db is not None or self._pending:
            try:
                await self.flush()  # a store that failed until now gets one last try
            except StoreError as exc:
                log.error("%s; %d record(s) could not be written at shutdown", exc, len(self._pending))
        if self._db is not None:
            await self._db.close()
            self._db = None

    def _need_db(self) -> aiosqlite.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db


def _reason(exc: BaseException) -> str:
    """SQLite's or the OS's words for a failure (never anything from a record)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc) or type(exc).__name__
