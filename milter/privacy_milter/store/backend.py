"""The interface every store backend offers to the BufferedWriter, and the typed answers.

A backend is one module that knows one database: how to open it (and migrate its schema),
write one batch in one transaction, and answer the report, subject-access and run-log
queries. Batching, the bounded backlog, retries and health are the writer's (writer.py), so
a new backend is only this interface (see docs/ARCHITECTURE.md, "Adding a store backend").
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .base import Record
from .health import Health


class _ItemAccess:
    """Typed answers read like the dicts they replaced (`stats["messages"]`), so callers
    that print or compare them did not have to change."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass(frozen=True)
class HealthReport(_ItemAccess):
    """The health row a daemon keeps in the store (see health.py), as `stats` reads it."""

    updated: float
    pid: int
    pending: int
    written: int
    dropped: int
    last_write: float | None
    failing_since: float | None
    last_error: str
    last_error_time: float | None
    host: str = ""


@dataclass(frozen=True)
class Stats(_ItemAccess):
    messages: int
    bytes: int
    direction: dict[str, int]
    action: dict[str, int]
    tls_version: dict[str, int]
    messages_with_findings: dict[str, int]
    store: HealthReport | None
    hosts: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """What `privacy-milter stats --json` prints, `hosts` (messages per host) included."""
        return asdict(self)


@dataclass(frozen=True)
class StoredRecipient(_ItemAccess):
    domain: str
    address_hash: str


@dataclass(frozen=True)
class StoredRecord(_ItemAccess):
    """One stored record, as a subject-access export shows it."""

    id: int
    time: float
    host: str
    queue_id: str
    direction: str
    direction_reason: str
    client_addr: str
    sender_domain: str
    sender_hash: str
    size: int
    tls_version: str
    tls_cipher: str
    action: str
    findings: list[Any]
    facts: dict[str, str]
    errors: list[str]
    recipients: list[StoredRecipient]


class KeyMismatchError(Exception):
    """Raised by `open` when the address key is not the one the store was created with."""


class Backend(abc.ABC):
    """`shared`: several hosts may write here (once-per-period jobs then claim their period)."""

    name: str = ""
    shared: bool = False
    host: str = ""

    @abc.abstractmethod
    async def open(self, key_fingerprint: str | None, *, daemon: bool) -> None:
        """Connect and migrate the schema. With a fingerprint: record it in a new store, or
        raise KeyMismatchError if the store holds another. Raise StoreError if it cannot open."""

    @property
    @abc.abstractmethod
    def is_open(self) -> bool: ...

    @abc.abstractmethod
    async def write_batch(self, records: Sequence[Record], health: Health | None) -> None:
        """All records (and the health row, if given) in one transaction; on any failure,
        cancellation included, nothing is written. Raise StoreError on a database error."""

    @abc.abstractmethod
    async def write_health(self, health: Health) -> None: ...

    @abc.abstractmethod
    async def purge(self, before: float) -> int:
        """Delete records older than `before` (a Unix time); return how many."""

    @abc.abstractmethod
    async def stats(self, since: float | None) -> Stats: ...

    @abc.abstractmethod
    async def find_address(self, address_hash: str) -> list[StoredRecord]: ...

    @abc.abstractmethod
    async def forget_address(self, address_hash: str) -> int: ...

    @abc.abstractmethod
    async def last_run(self, job: str) -> str | None: ...

    @abc.abstractmethod
    async def record_run(self, job: str, period: str, when: float) -> None: ...

    @abc.abstractmethod
    async def record_event(self, kind: str, count: int, when: float) -> None:
        """One thing the daemon went through (start, reload, purge, store failure)."""

    @abc.abstractmethod
    async def claim_run(self, job: str, period: str, host: str, when: float) -> bool:
        """True for exactly one caller per (job, period), whichever host it runs on."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def query(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        """Rows of one SELECT written with `?` placeholders, for the modules that own their
        own table (quarantine/events.py); raise StoreError on a database error."""

    @abc.abstractmethod
    async def execute(self, sql: str, args: tuple[Any, ...]) -> int:
        """One statement with `?` placeholders, committed; the rows it touched."""


# --- helpers shared by the SQL backends ------------------------------------------------

def record_row(record: Record, host: str) -> tuple[Any, ...]:
    """The messages row (without id) in MESSAGE_COLUMNS order."""
    return (record.time, record.host or host, record.queue_id, record.direction, record.direction_reason,
            record.client_addr, record.sender_domain, record.sender_hash, record.size,
            record.tls_version, record.tls_cipher, record.action,
            _json(record.findings, [list(f) for f in record.findings]),
            _json(record.facts, dict(record.facts)),
            _json(record.errors, list(record.errors)))


def _json(items: tuple[Any, ...], value: list[Any] | dict[str, Any]) -> str:
    """json.dumps(value); most records have no findings and no errors, and an empty list or
    object is written without building an encoder for it."""
    if items:
        return json.dumps(value)
    return "{}" if isinstance(value, dict) else "[]"


def stored_record(row: Sequence[Any], recipients: list[StoredRecipient]) -> StoredRecord:
    """From a row selected as `id, ` + MESSAGE_COLUMNS."""
    (id_, time_, host, queue_id, direction, reason, client, sender_domain, sender_hash, size,
     tls_version, tls_cipher, action, findings, facts, errors) = row
    return StoredRecord(int(id_), float(time_), host, queue_id, direction, reason, client, sender_domain,
                        sender_hash, int(size), tls_version, tls_cipher, action,
                        json.loads(findings), json.loads(facts), json.loads(errors), recipients)


def health_report(row: Sequence[Any]) -> HealthReport:
    """From a row selected as HEALTH_COLUMNS."""
    return HealthReport(*row)


def count_categories(rows: Sequence[Sequence[Any]]) -> dict[str, int]:
    """Messages per finding category (a message with two card findings counts once per row)."""
    out: dict[str, int] = {}
    for (findings,) in rows:
        for category, _confidence, _count in json.loads(findings):
            out[category] = out.get(category, 0) + 1
    return out
