"""The PostgreSQL store against a real server: an outage in the middle of a run, and two
daemons' runtimes with different host names writing to one database (issue 10)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.model import Message, Recipient, Session
from privacy_milter.runtime import Runtime
from privacy_milter.store import AddressHasher, BufferedWriter
from privacy_milter.store import writer as writer_mod
from privacy_milter.store.postgres import PostgresBackend
from tests.harness.postgres import PostgresServer
from tests.harness.builders import make_record


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


def fresh_schema(pg, name: str) -> str:
    pg.psql(f"DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}")
    return f"{pg.conninfo} options='-csearch_path={name}'"


async def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return predicate()


async def test_database_stopped_mid_run_every_record_written_exactly_once(pg, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(writer_mod, "RETRY_FIRST", 0.1)
    monkeypatch.setattr(writer_mod, "RETRY_MAX", 0.5)
    caplog.set_level(logging.DEBUG, "privacy_milter.store")
    conninfo = fresh_schema(pg, "outage")
    hasher = AddressHasher(b"k" * 32)
    w = BufferedWriter(PostgresBackend(conninfo, host="mx1.test", connect_timeout=2), batch_size=20,
                       flush_interval=0.05, key_fingerprint=hasher.fingerprint())
    await w.start()
    base = make_record(hasher)
    total = 600
    added = threading.Event()

    def producer() -> None:  # a libmilter thread's pace: add() straight from the thread
        for i in range(total):
            w.add(dataclasses.replace(base, queue_id=f"Q{i:04d}"))
            time.sleep(0.004)
        added.set()

    thread = threading.Thread(target=producer)
    try:
        thread.start()
        assert await wait_for(lambda: w.health.written >= 100, 20)
        await asyncio.to_thread(pg.stop)
        assert await wait_for(lambda: w.health.failing_since is not None, 20), "the outage was noticed"
        await asyncio.sleep(0.5)  # records keep coming while the database is down
        assert len(w._pending) > 0
        await asyncio.to_thread(pg.restart_later)
        assert await asyncio.to_thread(added.wait, 60)
        assert await wait_for(lambda: w.health.written == total, 60), w.health
        assert w.health.failing_since is None and w.health.dropped == 0
    finally:
        thread.join(60)
        await w.close()
    counts = pg.psql("SELECT COUNT(*), COUNT(DISTINCT queue_id), MIN(host), MAX(host) FROM outage.messages")
    assert counts.strip() == f"{total}|{total}|mx1.test|mx1.test", "every record once, none twice"
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert sum("records are kept in memory" in m for m in logged) == 1, "logged once per state change"
    assert sum("writing again" in m for m in logged) == 1
    assert pg.password not in caplog.text


POLICY = """
[store]
backend = "postgresql"
conninfo = "{conninfo}"
host_name = "{host}"
key_file = "{dir}/address.key"
path = "{dir}/unused.db"
flush_interval = 0.05
[network]
hosted_domains = ["hosted.example"]
[tls_policy]
enabled = false
"""


def message(n: int, sender: str) -> Message:
    m = Message(Session(f"c{n}", client_addr="192.0.2.1"), mail_from=sender,
                recipients=[Recipient("bob@hosted.example")], queue_id=f"Q{n}")
    m.headers = [("From", sender), ("To", "bob@hosted.example"), ("Subject", "hello")]
    m.write_body(b"Hello Bob\r\n")
    return m


async def test_two_runtimes_with_their_host_names_share_one_store(pg, tmp_path):
    conninfo = fresh_schema(pg, "cluster")
    runtimes = []
    for host in ("mx1.test", "mx2.test"):
        path = tmp_path / f"{host}.toml"
        path.write_text(POLICY.format(conninfo=conninfo, host=host, dir=tmp_path))  # one key file: copied
        runtimes.append(await Runtime.start(policy_mod.load(path), policy_path=path, watch=False))
    try:
        for n in range(40):
            for i, rt in enumerate(runtimes):
                sender = "alice@shop.example" if n % 10 == 0 else f"user{n}@shop.example"
                await rt.process(message(n * 2 + i, sender))
        for rt in runtimes:  # each host's own buffer; then either host sees all
            await rt.store.flush()
        stats = await runtimes[0].store.stats()
        assert stats.hosts == {"mx1.test": 40, "mx2.test": 40} and stats["messages"] == 80
        found = await runtimes[1].store.find_address(runtimes[1].hasher("alice@shop.example"))
        assert sorted(r.host for r in found) == ["mx1.test"] * 4 + ["mx2.test"] * 4
        claims = await asyncio.gather(*(rt.store.claim_run("summary", "2025-W20") for rt in runtimes))
        assert sorted(claims) == [False, True]
    finally:
        for rt in runtimes:
            await rt.stop()


def test_store_migrate_copies_a_sqlite_store_once_and_refuses_a_password(pg, tmp_path, capsys):
    from privacy_milter import cli
    from privacy_milter.store import SqliteStore

    hasher = AddressHasher.from_file(tmp_path / "address.key")

    async def fill(n):
        s = SqliteStore(tmp_path / "meta.db", key_fingerprint=hasher.fingerprint())
        await s.setup()
        for i in range(n):
            s.add(dataclasses.replace(make_record(hasher), queue_id=f"M{i}"))
        await s.close()

    asyncio.run(fill(30))
    conninfo = fresh_schema(pg, "migrated")
    argv = ["store", "migrate", "--from", f"sqlite:{tmp_path / 'meta.db'}", "--to", f"postgresql:{conninfo}",
            "--host", "old.test"]
    assert cli.main(argv) == 0 and "copied 30 record(s)" in capsys.readouterr().out
    assert cli.main(argv) == 0 and "copied 0 record(s)" in capsys.readouterr().out, "a second run copies nothing"
    asyncio.run(fill(5))
    assert cli.main(argv) == 0 and "copied 5 record(s)" in capsys.readouterr().out
    assert pg.psql("SELECT COUNT(*), COUNT(DISTINCT host) FROM migrated.messages").strip() == "35|1"
    assert pg.psql("SELECT COUNT(*) FROM migrated.recipients").strip() == "35"
    bad = ["store", "migrate", "--from", f"sqlite:{tmp_path / 'meta.db'}", "--to",
           "postgresql:host=db.example password=Hunter2Secret"]
    assert cli.main(bad) == 69
    assert "Hunter2Secret" not in capsys.readouterr().err
