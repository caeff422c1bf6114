"""Issue 27: the quarantine_events table (schema migration 5) and the records of held
messages by queue id, on every store backend (the `kind` fixture of test_store.py: SQLite
and a throwaway PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from privacy_milter.quarantine import events
from privacy_milter.store import schema

from tests.unit.test_quarantine import _record
from tests.unit.test_store import kind, pg  # noqa: F401 -- fixtures: every backend



async def test_events_and_records_by_queue_id_on_every_backend(kind) -> None:  # noqa: F811
    backend = kind[1]("mx1.test")
    await backend.open(None, daemon=False)
    try:
        now = time.time()
        await backend.write_batch([_record("AAAA11111"), _record("BBBB22222")], None)
        await events.record(backend, events.QuarantineEvent(now, "mx1.test", "AAAA11111", "release",
                                                            "asked\nby phone", now - 3600))
        await events.record(backend, events.QuarantineEvent(now, "mx1.test", "AAAA11111", "notice", "n", now))
        got = await events.of_queue_id(backend, "AAAA11111")
        assert [(e.event, e.reason, e.host) for e in got] == [("release", "asked by phone", "mx1.test"),
                                                                ("notice", "n", "mx1.test")]
        assert len(await events.between(backend, now - 1, now + 1)) == 2
        assert await events.between(backend, now + 1, now + 2) == []
        records = await events.records_for(backend, ["AAAA11111", "CCCC33333"])
        assert [r.queue_id for r in records["AAAA11111"]] == ["AAAA11111"] and records["CCCC33333"] == []
        assert records["AAAA11111"][0].recipients[0].domain == "far.example"
        # The retention window covers the quarantine's rows too.
        await backend.purge(now + 10)
        assert await events.of_queue_id(backend, "AAAA11111") == []
        with pytest.raises(ValueError):
            await events.record(backend, events.QuarantineEvent(now, "h", "A", "bogus", "", now))
    finally:
        await backend.close()


def test_migration_5_is_the_quarantine_table() -> None:
    assert "quarantine_events" in schema.MIGRATIONS[4][0]
