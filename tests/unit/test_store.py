import dataclasses
import itertools
import os
import stat
import time

import pytest

from privacy_milter.model import (Action, Confidence, Direction, DirectionDecision, Finding, Message,
                                  Recipient, Result, Session, TlsInfo, Verdict)
from privacy_milter.store import AddressHasher, BufferedWriter, Record, SqliteBackend, SqliteStore, record_from
from privacy_milter.store.postgres import PostgresBackend
from tests.harness.builders import make_record
from tests.harness.postgres import PostgresServer


@pytest.fixture
def hasher(tmp_path):
    return AddressHasher.from_file(tmp_path / "keys" / "address.key")


@pytest.fixture
async def store(tmp_path):
    s = SqliteStore(tmp_path / "db" / "meta.db", batch_size=10, flush_interval=0.05)
    await s.setup()
    yield s
    await s.close()


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


_schemas = itertools.count(1)


def pg_conninfo(pg):
    """A schema of its own per test: the tests share one server, never each other's rows."""
    schema = f"t{os.getpid()}_{next(_schemas)}"
    pg.psql(f"CREATE SCHEMA {schema}")
    return f"{pg.conninfo} options='-csearch_path={schema}'"


@pytest.fixture(params=["sqlite", "postgresql"])
def kind(request, tmp_path):
    if request.param == "postgresql":
        server = request.getfixturevalue("pg")
        conninfo = pg_conninfo(server)
        return request.param, lambda host="mx1.test": PostgresBackend(conninfo, host=host)
    return request.param, lambda host="mx1.test": SqliteBackend(tmp_path / "db" / "meta.db", host=host)


@pytest.fixture
async def any_store(kind):
    """The same tests against every backend, behind the same writer."""
    s = BufferedWriter(kind[1](), batch_size=10, flush_interval=0.05)
    await s.setup()
    yield s
    await s.close()


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


async def test_batched_writes_and_stats(any_store, hasher):
    for _ in range(25):
        any_store.add(make_record(hasher))
    stats = await any_store.stats()
    assert stats["messages"] == 25
    assert stats["direction"] == {"outbound": 25}
    assert stats["action"] == {"tag": 25}
    assert stats["messages_with_findings"] == {"payment_card": 25}
    assert stats["tls_version"] == {"TLSv1.3": 25}


async def test_flush_loop_writes_without_explicit_flush(any_store, hasher):
    import asyncio

    any_store.add(make_record(hasher))
    for _ in range(100):
        if not any_store._pending:
            break
        await asyncio.sleep(0.02)
    assert not any_store._pending


async def test_retention_purge(any_store, hasher):
    now = time.time()
    any_store.add(make_record(hasher, when=now - 61 * 86400))
    any_store.add(make_record(hasher, when=now - 59 * 86400))
    any_store.add(make_record(hasher, when=now))
    removed = await any_store.purge(now - 60 * 86400)
    assert removed == 1
    assert (await any_store.stats())["messages"] == 2


async def test_subject_access_export_and_delete(any_store, hasher):
    any_store.add(make_record(hasher, sender="alice@shop.example", rcpts=("bob@far.example",)))
    any_store.add(make_record(hasher, sender="carol@shop.example", rcpts=("alice@shop.example", "dan@x.example")))
    any_store.add(make_record(hasher, sender="erin@shop.example", rcpts=("frank@x.example",)))
    found = await any_store.find_address(hasher("Alice@shop.example"))
    assert len(found) == 2
    assert {d["domain"] for d in found[1]["recipients"]} == {"shop.example", "x.example"}
    assert await any_store.forget_address(hasher("alice@shop.example")) == 2
    assert (await any_store.stats())["messages"] == 1
    assert await any_store.find_address(hasher("alice@shop.example")) == []


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


# --- several hosts, schema versions, run log, the address key (issue 10) -------------------

async def test_every_record_carries_its_host_and_stats_count_per_host(kind, hasher):
    _name, make = kind
    for host, n in (("mx1.test", 3), ("mx2.test", 2)):
        w = BufferedWriter(make(host), batch_size=10)
        await w.setup()
        for _ in range(n):
            w.add(make_record(hasher))
        await w.close()
    w = BufferedWriter(make("submit.test"))
    await w.setup()
    try:
        stats = await w.stats()
        assert stats.hosts == {"mx1.test": 3, "mx2.test": 2} and stats["messages"] == 5
        assert set(stats.as_dict()) == {"messages", "bytes", "direction", "action", "tls_version",
                                        "messages_with_findings", "store", "hosts"}, "stats --json keys"
        assert stats.as_dict()["hosts"] == {"mx1.test": 3, "mx2.test": 2}
        found = await w.find_address(hasher("bob@far.example"))
        assert sorted(r.host for r in found) == ["mx1.test"] * 3 + ["mx2.test"] * 2
    finally:
        await w.close()


async def test_claim_run_has_exactly_one_winner_across_hosts_and_the_run_log_remembers(kind):
    import asyncio

    _name, make = kind
    writers = [BufferedWriter(make(f"mx{i}.test")) for i in range(3)]
    for w in writers:
        await w.setup()
    try:
        wins = await asyncio.gather(*(w.claim_run("summary", "2025-W20") for w in writers))
        assert sorted(wins) == [False, False, True]
        # a second try: the winner holds it still (its retry after a restart), the others do not
        assert [await w.claim_run("summary", "2025-W20") for w in writers] == list(wins)
        assert await writers[0].claim_run("summary", "2025-W21") is True  # the next period is free
        assert await writers[1].last_run("summary") is None  # claimed is not done
        await writers[1].record_run("summary", "2025-W20", 1000.0)
        await writers[2].record_run("summary", "2025-W21", 2000.0)
        assert await writers[0].last_run("summary") == "2025-W21"
        assert await writers[0].last_run("purge") is None
    finally:
        for w in writers:
            await w.close()


async def test_a_host_with_another_address_key_refuses_to_start(kind, hasher, tmp_path):
    from privacy_milter.errors import StoreError

    _name, make = kind
    first = BufferedWriter(make("mx1.test"), key_fingerprint=hasher.fingerprint())
    await first.start()
    await first.close()
    same = BufferedWriter(make("mx2.test"), key_fingerprint=AddressHasher.from_file(tmp_path / "keys" /
                                                                                  "address.key").fingerprint())
    await same.start()  # the same key file copied to another host: fine
    await same.close()
    other_key = AddressHasher(b"another key, another host" * 2)
    other = BufferedWriter(make("mx3.test"), key_fingerprint=other_key.fingerprint())
    with pytest.raises(StoreError, match="not the key the store .* was created with") as err:
        await other.start()
    assert "another key" not in str(err.value) and hasher.fingerprint() not in str(err.value)
    assert not other.backend.is_open
    await other.close()


async def test_schema_version_is_recorded_and_opening_again_migrates_nothing(kind, caplog):
    import logging

    from privacy_milter.store import schema

    caplog.set_level(logging.INFO, "privacy_milter.store")
    _name, make = kind
    for _ in range(2):
        w = BufferedWriter(make())
        await w.setup()
        await w.close()
    migrated = [r.getMessage() for r in caplog.records if "migrated to schema version" in r.getMessage()]
    assert len(migrated) == len(schema.MIGRATIONS), "each migration once, on the first open only"


async def test_an_old_sqlite_store_is_migrated_in_place_keeping_its_records(tmp_path, hasher):
    import sqlite3

    from privacy_milter.store import schema

    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:  # the schema before versions existed, with one record
        for statement in schema.statements(1, schema.SQLITE_TYPES):
            db.execute(statement)
        db.execute("INSERT INTO messages VALUES (1, 1.0, 'Q', 'inbound', 'r', '', 'a.example', 'h', 1, '', '', "
                   "'accept', '[]', '{}', '[]')")
    w = SqliteStore(path)
    await w.setup()
    try:
        assert (await w.stats()).hosts == {"none": 1}  # kept, with no host
        assert (await w.find_address("h"))[0].queue_id == "Q"
    finally:
        await w.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(schema.MIGRATIONS)


def test_postgresql_conninfo_with_a_password_is_refused_without_echoing_it():
    from privacy_milter import policy as policy_mod
    from privacy_milter.errors import PolicyError

    for conninfo in ("host=db.example dbname=pm user=pm password=S3cretValue",
                     "postgresql://pm:S3cretValue@db.example/pm", "host=db.example S3cretValue"):
        text = f'[store]\nbackend = "postgresql"\nconninfo = "{conninfo}"\n'
        with pytest.raises(PolicyError) as err:
            policy_mod.parse(text)
        assert "S3cretValue" not in str(err.value) and "conninfo" in str(err.value)
    ok = policy_mod.parse('[store]\nbackend = "postgresql"\nhost_name = "mx1.example"\n'
                          'conninfo = "host=/run/postgresql dbname=pm user=pm passfile=/etc/pm/pgpass"\n')
    assert ok.store.backend == "postgresql" and ok.store.host_name == "mx1.example"
    with pytest.raises(PolicyError, match="conninfo"):
        policy_mod.parse('[store]\nbackend = "postgresql"\n')


async def test_add_from_many_threads_writes_every_record_once(kind, hasher):
    """add() is called straight from libmilter threads: no record lost or doubled."""
    import asyncio
    import threading

    _name, make = kind
    w = BufferedWriter(make(), batch_size=50, flush_interval=0.02)
    await w.start()
    record = make_record(hasher)
    try:
        def producer(n):
            for i in range(250):
                w.add(dataclasses.replace(record, queue_id=f"T{n}-{i}"))

        threads = [threading.Thread(target=producer, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join(30) for t in threads])
        assert await _wait(lambda: w.health.written == 1000, timeout=20)
        assert len(await w.find_address(hasher("bob@far.example"))) == 1000
        ids = {r.queue_id for r in await w.find_address(hasher("bob@far.example"))}
        assert len(ids) == 1000
    finally:
        await w.close()


async def test_retention_purges_the_summarys_delivery_rows_too(tmp_path, hasher):
    import aiosqlite

    from privacy_milter.store import SqliteStore

    store = SqliteStore(tmp_path / "meta.db", batch_size=10, flush_interval=0.05)
    await store.setup()
    now = time.time()
    try:
        async with aiosqlite.connect(tmp_path / "meta.db") as db:  # as the delivery-log reader writes them
            for when in (now - 61 * 86400, now):
                await db.execute("INSERT INTO deliveries VALUES (?, 'Q1', 'far.example', 'mx.far.example', "
                                 "'verified', 'TLSv1.3', 'dane', 'sent', '2.0.0', '', 'mx1')", (when,))
                await db.execute("INSERT INTO maillog_polls VALUES (?, 10, 0)", (when,))
            await db.commit()
        await store.purge(now - 60 * 86400)
        async with aiosqlite.connect(tmp_path / "meta.db") as db:
            left = [(await (await db.execute(f"SELECT COUNT(*) FROM {t}")).fetchone())[0]
                    for t in ("deliveries", "maillog_polls")]
        assert left == [1, 1]
    finally:
        await store.close()


def test_address_hashes_are_hmac_sha256_of_the_normalised_address_cut_to_32_hex():
    """Fixed values: a subject-access request made today must find the records of every
    release. Each call starts from the keyed state, never from an earlier call's data."""
    h = AddressHasher(b"k" * 32)
    for _ in range(2):
        assert h("<Alice@Shop.Example> ") == "40c82e68271fdf360b6575351c72fb55"
        assert h("bob@far.example") == "58ae1c776761eddf0b6ddc37ae1ff644"
        assert h("<>") == "a4ad8e340e32bf1d916005cb1dc92795"


def test_the_record_of_a_message_field_by_field():
    m = Message(Session("c1", client_addr="192.0.2.7", tls=TlsInfo("TLSv1.3", "TLS_AES_128_GCM_SHA256", 128)),
                mail_from="<Alice@Shop.Example>", recipients=[Recipient("bob@far.example"), Recipient("x@Y.Example.")],
                queue_id="4F3A2B1C")
    m.write_body(b"x" * 99)
    m.direction = DirectionDecision(Direction.OUTBOUND, "trusted-network")
    dlp = Result("dlp", Action.TAG, findings=(Finding("iban", Confidence.MEDIUM, 2, rules=("iban.checksum",)),),
                 facts=(("dlp", "scanned"), ("dlp_rules", "iban.checksum")))
    tls = Result("tls", facts=(("tls", "TLSv1.3"),))
    spam = Result("spam", error="timed out after 5s")
    record = record_from(m, Verdict(Action.TAG, (dlp, tls, spam)), AddressHasher(b"k" * 32), 1_764_806_400.5)
    h = AddressHasher(b"k" * 32)
    assert dataclasses.asdict(record) == {
        "time": 1_764_806_400.5, "queue_id": "4F3A2B1C", "direction": "outbound",
        "direction_reason": "trusted-network", "client_addr": "192.0.2.7", "sender_domain": "shop.example",
        "sender_hash": "40c82e68271fdf360b6575351c72fb55",
        "recipients": (("far.example", "58ae1c776761eddf0b6ddc37ae1ff644"), ("y.example", h("x@y.example."))),
        "size": 99, "tls_version": "TLSv1.3", "tls_cipher": "TLS_AES_128_GCM_SHA256", "action": "tag",
        "findings": (("iban", "medium", 2),),
        "facts": (("dlp", "scanned"), ("dlp_rules", "iban.checksum"), ("tls", "TLSv1.3")),
        "errors": ("spam",), "host": ""}
    empty = record_from(Message(Session("c2")), Verdict(Action.ACCEPT, ()), AddressHasher(b"k" * 32), 5.0)
    assert (empty.queue_id, empty.direction, empty.sender_hash, empty.recipients, empty.client_addr) == \
        ("NOQUEUE", "", "", (), "")


def test_the_messages_row_holds_findings_facts_and_errors_as_json():
    import json

    from privacy_milter.store.backend import record_row

    full = Record(time=1.5, queue_id="4Q", direction="outbound", direction_reason="auth", client_addr="192.0.2.1",
                  sender_domain="shop.example", sender_hash="h1", recipients=(("far.example", "h2"),), size=9,
                  tls_version="TLSv1.3", tls_cipher="C", action="tag", findings=(("iban", "medium", 2),),
                  facts=(("dlp", "scanned"), ("tls", "TLSv1.3")), errors=("spam",))
    assert record_row(full, "mx1") == (1.5, "mx1", "4Q", "outbound", "auth", "192.0.2.1", "shop.example", "h1", 9,
                                       "TLSv1.3", "C", "tag", '[["iban", "medium", 2]]',
                                       '{"dlp": "scanned", "tls": "TLSv1.3"}', '["spam"]')
    empty = dataclasses.replace(full, findings=(), facts=(), errors=(), host="mx2")
    row = record_row(empty, "mx1")
    assert row[1] == "mx2" and row[-3:] == (json.dumps([]), json.dumps({}), json.dumps([]))
