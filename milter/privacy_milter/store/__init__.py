"""The metadata store: one record per message, metadata only.

One BufferedWriter (writer.py) in front of a backend (backend.py) picked by name from
BACKENDS: SQLite for a single host, PostgreSQL for several hosts sharing one store.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import hostname
from ..policy import StoreSettings
from .backend import Backend, HealthReport, Stats, StoredRecipient, StoredRecord
from .base import AddressHasher, Record, record_from
from .sqlite import SqliteBackend
from .writer import BufferedWriter

Store = BufferedWriter  # what the runtime and the CLI hold

__all__ = ["AddressHasher", "Backend", "BACKENDS", "BufferedWriter", "HealthReport", "Record", "SqliteBackend",
           "SqliteStore", "Stats", "Store", "StoredRecipient", "StoredRecord", "open_backend", "open_store",
           "record_from"]


def _sqlite(settings: StoreSettings, host: str) -> Backend:
    return SqliteBackend(settings.path, host=host)


def _postgresql(settings: StoreSettings, host: str) -> Backend:
    from .postgres import PostgresBackend  # psycopg is imported only when configured

    return PostgresBackend(settings.conninfo, host=host, pool_size=settings.pool_size,
                           connect_timeout=settings.connect_timeout)


BACKENDS: dict[str, Callable[[StoreSettings, str], Backend]] = {
    "sqlite": _sqlite,
    "postgresql": _postgresql,
}


def open_backend(settings: StoreSettings) -> Backend:
    try:
        make = BACKENDS[settings.backend]
    except KeyError:
        raise ValueError(f"unknown store backend {settings.backend!r}") from None
    # The daemon resolved host_name at start (hostname.resolve); tools that only read get
    # the best name there is (they write no record).
    return make(settings, settings.host_name or hostname.best_effort())


def open_store(settings: StoreSettings, hasher: AddressHasher | None = None) -> BufferedWriter:
    """The backend named in policy.toml behind the writer. With a hasher, opening checks
    (or, in a new store, records) the fingerprint of its key."""
    return BufferedWriter(open_backend(settings), batch_size=settings.batch_size,
                          flush_interval=settings.flush_interval,
                          key_fingerprint=hasher.fingerprint() if hasher else None)


def SqliteStore(path: Path, **writer_options: Any) -> BufferedWriter:  # noqa: N802 (the old class's name)
    """A writer over a SQLite file (tests, tools)."""
    return BufferedWriter(SqliteBackend(path), **writer_options)
