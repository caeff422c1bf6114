"""MTA-STS policies kept in the metadata store's SQLite file, so a restart does not forget
them (RFC 8461 wants a policy remembered for its max_age: a restart must not open a
window in which an attacker who strips STARTTLS could downgrade delivery)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiosqlite

from ..tlspolicy.cache import CacheEntry, PolicyCache
from ..tlspolicy.model import MtaStsPolicy

SCHEMA = """
CREATE TABLE IF NOT EXISTS mta_sts_policies (
    domain TEXT PRIMARY KEY,
    fetched_at REAL NOT NULL,
    policy_id TEXT NOT NULL,
    policy TEXT NOT NULL
)
"""


class SqlitePolicyCache(PolicyCache):
    """One table beside the message records; its own connection (WAL lets both write)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None

    async def setup(self) -> None:
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        # Create the file only if it is missing. Never open()+close() a file this process
        # already has open through SQLite (the store's connection): closing any descriptor
        # drops all of the process's POSIX locks on it, and the next other process to close
        # the database (privacy-milter stats) then thinks it is the last user and deletes
        # the WAL, so every later write goes to an unlinked file.
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        self._db = await aiosqlite.connect(self.path)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self._db.execute(SCHEMA)
        await self._db.commit()

    def _conn(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("policy cache not set up")
        return self._db

    async def get(self, domain: str) -> CacheEntry | None:
        async with self._conn().execute(
                "SELECT fetched_at, policy_id, policy FROM mta_sts_policies WHERE domain = ?", (domain,)) as cur:
            row = await cur.fetchone()
        return _entry(row) if row else None

    async def set(self, domain: str, entry: CacheEntry) -> None:
        db = self._conn()
        await db.execute("INSERT OR REPLACE INTO mta_sts_policies VALUES (?, ?, ?, ?)",
                         (domain, entry.fetched_at, entry.policy_id, json.dumps(entry.policy.to_dict())))
        await db.commit()

    async def delete(self, domain: str) -> None:
        db = self._conn()
        await db.execute("DELETE FROM mta_sts_policies WHERE domain = ?", (domain,))
        await db.commit()

    async def scan(self, after: str | None, limit: int) -> list[tuple[str, CacheEntry]]:
        async with self._conn().execute(
                "SELECT domain, fetched_at, policy_id, policy FROM mta_sts_policies WHERE domain > ? "
                "ORDER BY domain LIMIT ?", (after or "", limit)) as cur:
            rows = await cur.fetchall()
        return [(row[0], _entry(row[1:])) for row in rows]

    async def teardown(self) -> None:
        if self._db is not None:
            await self._db.close()
            self._db = None


def _entry(row: Iterable[Any]) -> CacheEntry:
    fetched_at, policy_id, policy = row
    return CacheEntry(fetched_at=fetched_at, policy_id=policy_id, policy=MtaStsPolicy.from_dict(json.loads(policy)))
