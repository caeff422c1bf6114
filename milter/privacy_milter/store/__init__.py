"""The metadata store: one record per message, metadata only, behind a small interface."""

from __future__ import annotations

from ..policy import StoreSettings
from .base import AddressHasher, Record, Store, record_from
from .sqlite import SqliteStore

__all__ = ["AddressHasher", "Record", "Store", "SqliteStore", "open_store", "record_from"]


def open_store(settings: StoreSettings) -> Store:
    """Pick the backend named in policy.toml. Each backend is one module with the same interface."""
    if settings.backend == "sqlite":
        return SqliteStore(settings.path, batch_size=settings.batch_size,
                           flush_interval=settings.flush_interval)
    raise ValueError(f"unknown store backend {settings.backend!r}")
