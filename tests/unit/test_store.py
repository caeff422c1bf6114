import os
import stat
import time

import pytest

from privacy_milter.model import (Action, Confidence, Direction, DirectionDecision, Finding, Message,
                                  Recipient, Result, Session, TlsInfo, Verdict)
from privacy_milter.store import AddressHasher, SqliteStore, record_from


@pytest.fixture
def hasher(tmp_path):
    return AddressHasher.from_file(tmp_path / "keys" / "address.key")


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(tmp_path / "db" / "meta.db", batch_size=10, flush_interval=0.05)
    await s.setup()
    yield s
    await s.close()


def make_record(hasher, when=None, sender="Alice@Shop.example", rcpts=("bob@far.example",)):
    m = Message(Session("c", client_addr="192.0.2.1", tls=TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384")),
                mail_from=sender, recipients=[Recipient(r) for r in rcpts], queue_id="4ABC")
    m.direction = DirectionDecision(Direction.OUTBOUND, "auth")
    m.write_body(b"Subject-less body with card 4111 1111 1111 1111")
    v = Verdict(Action.TAG, (Result("dlp", Action.TAG, findings=(Finding("payment_card", Confidence.HIGH, 1),),
                                    facts=(("dlp", "scanned"),)),))
    r = record_from(m, v, hasher, when)
    m.close()
    return r


def test_key_file_is_created_private_and_reused(tmp_path):
    path = tmp_path / "k" / "address.key"
    h1 = AddressHasher.from_file(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    h2 = AddressHasher.from_file(path)
    assert h1("a@b.example") == h2("A@B.example") == h1("<a@b.example>")
    assert h1("a@b.example") != h1("c@b.example")


def test_record_holds_no_address_or_content(hasher):
    r = make_record(hasher)
    text = repr(r)
    assert "alice" not in text.lower() and "bob@" not in text and "4111" not in text
    assert r.sender_domain == "shop.example" and r.recipients[0][0] == "far.example"
    assert r.findings == (("payment_card", "high", 1),)


async def test_store_file_is_0600_and_wal(store, tmp_path):
    store.add(make_record(AddressHasher(b"k" * 32)))
    await store.flush()
    assert stat.S_IMODE(os.stat(store.backend.path).st_mode) == 0o600
    assert (tmp_path / "db" / "meta.db-wal").exists()


async def test_batched_writes_and_stats(store, hasher):
    for _ in range(25):
        store.add(make_record(hasher))
    stats = await store.stats()
    assert stats["messages"] == 25
    assert stats["direction"] == {"outbound": 25}
    assert stats["action"] == {"tag": 25}
    assert stats["messages_with_findings"] == {"payment_card": 25}
    assert stats["tls_version"] == {"TLSv1.3": 25}


async def test_flush_loop_writes_without_explicit_flush(store, hasher):
    import asyncio

    store.add(make_record(hasher))
    for _ in range(100):
        if not store._pending:
            break
        await asyncio.sleep(0.02)
    assert not store._pending


async def test_retention_purge(store, hasher):
    now = time.time()
    store.add(make_record(hasher, when=now - 61 * 86400))
    store.add(make_record(hasher, when=now - 59 * 86400))
    store.add(make_record(hasher, when=now))
    removed = await store.purge(now - 60 * 86400)
    assert removed == 1
    assert (await store.stats())["messages"] == 2


async def test_subject_access_export_and_delete(store, hasher):
    store.add(make_record(hasher, sender="alice@shop.example", rcpts=("bob@far.example",)))
    store.add(make_record(hasher, sender="carol@shop.example", rcpts=("alice@shop.example", "dan@x.example")))
    store.add(make_record(hasher, sender="erin@shop.example", rcpts=("frank@x.example",)))
    found = await store.find_address(hasher("Alice@shop.example"))
    assert len(found) == 2
    assert {d["domain"] for d in found[1]["recipients"]} == {"shop.example", "x.example"}
    assert await store.forget_address(hasher("alice@shop.example")) == 2
    assert (await store.stats())["messages"] == 1
    assert await store.find_address(hasher("alice@shop.example")) == []


async def test_failed_write_keeps_records(store, hasher, monkeypatch):
    import aiosqlite

    from privacy_milter.errors import StoreError

    async def broken(batch, health):
        raise aiosqlite.OperationalError("disk I/O error")

    store.add(make_record(hasher))
    monkeypatch.setattr(store.backend, "_write", broken)
    with pytest.raises(StoreError):
        await store.flush()
    assert len(store._pending) == 1
    monkeypatch.undo()
    await store.flush()
    assert (await store.stats())["messages"] == 1


async def test_unopenable_store_is_a_clear_error(tmp_path):
    from privacy_milter.errors import StoreError

    (tmp_path / "file").write_text("x")
    s = SqliteStore(tmp_path / "file" / "meta.db")
    with pytest.raises(StoreError, match="cannot open the store"):
        await s.setup()


async def test_cancelled_write_keeps_records_and_ends_the_transaction(store, hasher, monkeypatch):
    import asyncio

    real_write = store.backend._write
    started = asyncio.Event()

    async def slow(batch, health):
        await store.backend._db.execute("BEGIN IMMEDIATE")
        started.set()
        await asyncio.sleep(10)

    store.add(make_record(hasher))
    monkeypatch.setattr(store.backend, "_write", slow)
    task = asyncio.create_task(store.flush())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(store._pending) == 1 and not store.backend._db.in_transaction
    monkeypatch.setattr(store.backend, "_write", real_write)
    await store.close()
    store2 = SqliteStore(store.backend.path)
    await store2.setup()
    assert (await store2.stats())["messages"] == 1
    await store2.close()


async def test_policy_cache_on_the_same_file_does_not_break_other_readers(store, hasher):
    """Regression: opening the policy cache must not drop the store's SQLite locks, or the
    next outside reader deletes the WAL and later records vanish from everyone else's view."""
    from privacy_milter.store.policycache import SqlitePolicyCache

    cache = SqlitePolicyCache(store.backend.path)
    await cache.setup()
    store.add(make_record(hasher))
    await store.flush()

    async def outside_count():  # another process, as `privacy-milter stats` would be
        import subprocess
        import sys

        code = ("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "print(c.execute('SELECT COUNT(*) FROM messages').fetchone()[0]); c.close()")
        out = subprocess.run([sys.executable, "-c", code, str(store.backend.path)], capture_output=True, text=True,
                             timeout=30, check=True)
        return int(out.stdout)

    assert await outside_count() == 1
    store.add(make_record(hasher))
    await store.flush()
    assert await outside_count() == 2
    await cache.teardown()


# --- a store that cannot be opened or written: the daemon keeps going (issue 13, items 4 and 9) ----

async def _wait(predicate, timeout=5.0):
    import asyncio

    for _ in range(int(timeout / 0.02)):
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return predicate()


async def test_daemon_start_survives_an_unopenable_store_and_writes_once_it_opens(tmp_path, hasher, caplog,
                                                                                  monkeypatch):
    from privacy_milter.store import writer as sqlite_mod

    monkeypatch.setattr(sqlite_mod, "RETRY_FIRST", 0.05)
    monkeypatch.setattr(sqlite_mod, "RETRY_MAX", 0.1)
    blocker = tmp_path / "dir"
    blocker.write_text("a file where the store's directory should be")
    s = SqliteStore(blocker / "meta.db", batch_size=10, flush_interval=0.02)
    await s.start()  # does not raise
    try:
        for _ in range(3):
            s.add(make_record(hasher))
        assert await _wait(lambda: s._backoff >= 0.1)  # several tries have failed by now
        errors = [r for r in caplog.records if r.levelname == "ERROR" and "cannot open the store" in r.message]
        assert len(errors) == 1, "logged once per state change, not per try"
        assert s.health.failing_since is not None and s.health.pending == 3
        blocker.unlink()  # the cause goes
        assert await _wait(lambda: s.health.written == 3)
        assert s.health.failing_since is None
        assert sum("writing again" in r.message for r in caplog.records) == 1
        stats = await s.stats()
        assert stats["messages"] == 3
        assert stats["store"]["pending"] == 0 and stats["store"]["failing_since"] is None
        assert stats["store"]["written"] == 3 and stats["store"]["last_write"] is not None
    finally:
        await s.close()


async def test_failing_writes_are_logged_once_and_backed_off(store, hasher, caplog, monkeypatch):
    import aiosqlite

    from privacy_milter.store import writer as sqlite_mod

    monkeypatch.setattr(sqlite_mod, "RETRY_FIRST", 0.05)
    calls = []

    async def broken(batch, health):
        calls.append(len(batch))
        raise aiosqlite.OperationalError("database or disk is full")

    store._reports = True
    real = store.backend._write
    monkeypatch.setattr(store.backend, "_write", broken)
    store.add(make_record(hasher))
    assert await _wait(lambda: len(calls) >= 3)
    assert store._backoff > 0.05  # doubled: not a try every flush interval
    assert sum("disk is full" in r.message for r in caplog.records) == 1
    assert store.health.last_error == "store write failed: database or disk is full"
    monkeypatch.setattr(store.backend, "_write", real)
    assert await _wait(lambda: store.health.written == 1)
    assert (await store.stats())["messages"] == 1


def test_backlog_past_max_pending_is_dropped_counted_and_logged_once(tmp_path, hasher, caplog, monkeypatch):
    from privacy_milter.store import writer as sqlite_mod

    monkeypatch.setattr(sqlite_mod, "MAX_PENDING", 5)
    s = SqliteStore(tmp_path / "meta.db", batch_size=100)
    record = make_record(hasher)
    for _ in range(8):
        s.add(record)
    assert len(s._pending) == 5 and s.health.dropped == 3
    assert sum("dropped" in r.message for r in caplog.records) == 1


def test_health_line_for_stats():
    from privacy_milter.store.health import describe

    now = 1_000_000.0
    ok = {"updated": now - 1, "pid": 1, "pending": 0, "written": 10, "dropped": 0, "last_write": now - 2,
          "failing_since": None, "last_error": "", "last_error_time": None}
    assert describe(ok, now) == "store: 0 pending, last write 2 s ago"
    failing = dict(ok, failing_since=now - 300, pending=1234, last_error="store write failed: database or disk is full")
    line = describe(failing, now)
    assert line.startswith("store: WRITE FAILING since ") and "disk is full" in line and "1,234 pending" in line
    stale = dict(ok, updated=now - 600)
    assert "the daemon is stopped or cannot write" in describe(stale, now)
    assert "no health report" in describe(None, now)
