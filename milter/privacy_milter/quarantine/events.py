"""The store's side of the quarantine: the records of held messages (by queue id) and the
quarantine_events table (schema migration 5): release, delete, expire, notice.

Metadata only: a queue id, when, which host, the event, the reason the admin typed (or
"keep_days", "subject request"), and when the message was held. Works on either backend
through Backend.query/execute (`?` placeholders; PostgreSQL's are converted there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..store import schema as q
from ..store.backend import Backend, StoredRecipient, StoredRecord, stored_record

EVENTS = ("release", "delete", "expire", "notice")
MAX_REASON = 200

INSERT = "INSERT INTO quarantine_events (time, host, queue_id, event, reason, held_since) VALUES (?, ?, ?, ?, ?, ?)"
SELECT = ("SELECT time, host, queue_id, event, reason, held_since FROM quarantine_events "
          "WHERE time >= ? AND time < ? ORDER BY time")
FOR_QUEUE_ID = ("SELECT time, host, queue_id, event, reason, held_since FROM quarantine_events "
                "WHERE queue_id = ? ORDER BY time")
RECORDS = f"SELECT id, {', '.join(q.MESSAGE_COLUMNS)} FROM messages WHERE queue_id = ? ORDER BY time DESC, id DESC"


@dataclass(frozen=True)
class QuarantineEvent:
    time: float
    host: str
    queue_id: str
    event: str
    reason: str
    held_since: float


def clean_reason(text: str) -> str:
    """One line, bounded: the admin's words go into the store and the log as they are typed."""
    return " ".join(text.split())[:MAX_REASON]


async def record(backend: Backend, event: QuarantineEvent) -> None:
    if event.event not in EVENTS:
        raise ValueError(f"unknown quarantine event {event.event!r}")
    await backend.execute(INSERT, (event.time, event.host, event.queue_id, event.event,
                                   clean_reason(event.reason), event.held_since))


async def between(backend: Backend, since: float, until: float) -> list[QuarantineEvent]:
    return [_event(row) for row in await backend.query(SELECT, (since, until))]


async def of_queue_id(backend: Backend, queue_id: str) -> list[QuarantineEvent]:
    return [_event(row) for row in await backend.query(FOR_QUEUE_ID, (queue_id,))]


async def records_for(backend: Backend, queue_ids: Iterable[str]) -> dict[str, list[StoredRecord]]:
    """Every record of each queue id, newest first (a queue id is unique on one host at a
    time; a shared store may hold the same id from another host, or an old reused one)."""
    out: dict[str, list[StoredRecord]] = {}
    for queue_id in sorted(set(queue_ids)):
        rows = await backend.query(RECORDS, (queue_id,))
        out[queue_id] = [stored_record(row, await _recipients(backend, row[0])) for row in rows]
    return out


async def _recipients(backend: Backend, message_id: Any) -> list[StoredRecipient]:
    return [StoredRecipient(d, h) for d, h in await backend.query(q.FIND_RECIPIENTS, (message_id,))]


def _event(row: tuple[Any, ...]) -> QuarantineEvent:
    time_, host, queue_id, event, reason, held_since = row
    return QuarantineEvent(float(time_), host, queue_id, event, reason, float(held_since))
