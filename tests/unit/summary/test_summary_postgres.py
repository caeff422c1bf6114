"""The weekly report on a shared PostgreSQL store (a real server, tests/harness/postgres.py):
two hosts' records, the per-host line, and the same report as SQLite gives for the same seed."""

from __future__ import annotations

import dataclasses
import itertools
import os
from datetime import datetime

import aiosqlite
import pytest

from summary_seed import TZ, WEEK, t, week47, week48  # type: ignore[import-not-found]

from privacy_milter import policy as policy_mod
from privacy_milter.policy import StoreSettings
from privacy_milter.store import BufferedWriter, SqliteStore
from privacy_milter.store.postgres import PostgresBackend
from privacy_milter.summary.command import load_report
from privacy_milter.summary.deliveries_schema import DDL, insert_deliveries
from privacy_milter.summary.job import WeeklySummary
from privacy_milter.summary.model import HostLine, Totals
from privacy_milter.summary.queries import SqliteQuery, Window, build_report
from privacy_milter.summary.source import report_query, write_poll
from tests.harness.postgres import PostgresServer

HOSTS = ("mx1.example.net", "mx2.example.net")
POLLS = ((t(2026, 11, 26), 500, 3), (t(2026, 11, 19), 100, 9))
_schemas = itertools.count(1)


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


@pytest.fixture
def pg_settings(pg):
    schema = f"s{os.getpid()}_{next(_schemas)}"
    pg.psql(f"CREATE SCHEMA {schema}")
    return StoreSettings(backend="postgresql", conninfo=f"{pg.conninfo} options='-csearch_path={schema}'",
                         host_name="mx1.example.net")


def two_hosts():
    """The seeded weeks, each record and delivery row given one of two hosts in turn; the
    delivery rows carry the log's short name, as Postfix's syslog lines do."""
    r47, d47 = week47()
    r48, d48 = week48()
    records = [dataclasses.replace(r, host=HOSTS[i % 2]) for i, r in enumerate(r47 + r48)]
    deliveries = [dataclasses.replace(d, host=HOSTS[i % 2].split(".")[0]) for i, d in enumerate(d47 + d48)]
    return records, deliveries


async def seed_pg(settings):
    records, deliveries = two_hosts()
    for host in HOSTS:  # each host's daemon writes its own records, through the writer
        store = BufferedWriter(PostgresBackend(settings.conninfo, host=host))
        await store.setup()
        for r in records:
            if r.host == host:
                store.add(dataclasses.replace(r, host=""))  # the backend stamps its host
        await store.flush()
        await store.close()
    await write_poll(settings, deliveries, *POLLS[0][1:], now=POLLS[0][0])
    await write_poll(settings, [], *POLLS[1][1:], now=POLLS[1][0])


async def seed_sqlite(path):
    records, deliveries = two_hosts()
    store = SqliteStore(path)
    await store.setup()
    for r in records:
        store.add(r)
    await store.flush()
    await store.close()
    async with aiosqlite.connect(path) as db:
        await db.executescript(DDL)
        await insert_deliveries(db, deliveries)
        for poll in POLLS:
            await db.execute("INSERT INTO maillog_polls (time, lines, unparsed) VALUES (?, ?, ?)", poll)
        await db.commit()


def expected_hosts():
    """Counted here in Python from the seed, independently of the SQL."""
    records, deliveries = two_hosts()
    w = Window.of(WEEK, TZ)
    out = []
    for host in HOSTS:
        mine = [r for r in records if r.host == host and w.start <= r.time < w.end]
        sent = [d for d in deliveries if d.host == host.split(".")[0] and d.status == "sent"
                and w.start <= d.time.timestamp() < w.end]
        out.append(HostLine(host, len(mine), sum(r.action == "tempfail" for r in mine), 0, deliveries=len(sent)))
    return tuple(out)


async def test_two_hosts_on_postgresql_per_host_lines_and_totals(pg_settings):
    await seed_pg(pg_settings)
    async with report_query(pg_settings, readonly=True) as (query, missing, exists):
        assert (missing, exists) == ([], True)
        r = await build_report(query, WEEK, TZ, top_n=10, retention_days=60)
    assert r.totals == Totals(messages_in=10, messages_out=9, encrypted_in=9, encrypted_out=3,
                              findings_stopped=4, deliveries_out=6)
    assert r.hosts == expected_hosts()
    assert sum(h.messages for h in r.hosts) == r.totals.messages == 19
    assert sum(h.deliveries for h in r.hosts) == r.totals.deliveries_out
    assert {h.host for h in r.hosts} == set(HOSTS) and all(h.messages > 0 for h in r.hosts)
    assert r.health.unparsed_log_lines == 3 and r.health.tempfails == 1


async def test_postgresql_and_sqlite_give_the_same_report_for_the_same_seed(pg_settings, tmp_path):
    await seed_pg(pg_settings)
    await seed_sqlite(tmp_path / "m.db")
    async with aiosqlite.connect(tmp_path / "m.db") as db:
        lite = [await build_report(SqliteQuery(db), WEEK, TZ, 10, scope, retention_days=60)
                for scope in (None, "shop.example", "clinic.example")]
    async with report_query(pg_settings, readonly=True) as (query, _, _):
        pgr = [await build_report(query, WEEK, TZ, 10, scope, retention_days=60)
               for scope in (None, "shop.example", "clinic.example")]
    assert lite[0].hosts == expected_hosts()
    assert lite[0].totals.messages > 0 and lite[1].totals.messages > 0
    assert pgr == lite


async def test_summary_preview_reads_postgresql_read_only(pg_settings, tmp_path):
    await seed_pg(pg_settings)
    text = (f'[store]\nbackend = "postgresql"\nconninfo = "{pg_settings.conninfo}"\nhost_name = "mx1.example.net"\n'
            '[summary]\ntop_n = 5\n')
    policy = policy_mod.parse(text)
    r = await load_report(policy, WEEK)
    assert r.totals.messages == 19 and len(r.hosts) == 2


async def test_an_empty_postgresql_database_gives_an_empty_report_and_the_job_waits(pg_settings):
    async with report_query(pg_settings, readonly=True) as (query, missing, exists):
        assert exists is False and set(missing) >= {"messages", "deliveries"}
        r = await build_report(query, WEEK, TZ, 10)
    assert r.is_empty and r.hosts == ()
    with pytest.raises(Exception, match="no messages"):
        async with report_query(pg_settings, readonly=False):
            pass


async def test_the_weekly_job_sends_the_cluster_report_from_postgresql(pg_settings):
    await seed_pg(pg_settings)
    sent = []

    class Sender:
        async def send(self, message, sender, recipients):
            sent.append((message, recipients))

    text = (f'[store]\nbackend = "postgresql"\nconninfo = "{pg_settings.conninfo}"\nhost_name = "mx2.example.net"\n'
            '[summary]\nenabled = true\nrecipients = ["admin@hosting.example"]\n')
    policy = policy_mod.parse(text)
    monday = datetime(2026, 11, 30, 7, tzinfo=TZ).timestamp()
    await WeeklySummary(policy, Sender(), clock=lambda: monday)()
    assert len(sent) == 1 and sent[0][1] == ["admin@hosting.example"]
    body = sent[0][0].get_body(("plain",)).get_content()
    assert "mx1.example.net" in body and "mx2.example.net" in body


async def test_issue23_figures_are_the_same_on_postgresql(pg_settings, tmp_path):
    """Flagged mail in clear, the relay's hop, the inbound relay and failed TLS decisions: the
    same SQL on both dialects (LIKE ... ESCAPE, JSON facts, parameters in the SELECT list)."""
    from flagged_seed import HOSTED, RELAY, add, extras  # type: ignore[import-not-found]

    from privacy_milter.metrics import Metrics, flagged_clear_deliveries
    from privacy_milter.summary.flagged_watch import FlaggedClearWatch

    records, deliveries = extras()
    await seed_pg(pg_settings)
    store = BufferedWriter(PostgresBackend(pg_settings.conninfo, host=HOSTS[0]))
    await store.setup()
    for r in records:
        store.add(r)
    await store.flush()
    await store.close()
    await write_poll(pg_settings, deliveries, 0, 0, now=t(2026, 11, 26))
    await seed_sqlite(tmp_path / "m.db")
    await add(tmp_path / "m.db", [dataclasses.replace(r, host=HOSTS[0]) for r in records], deliveries)
    async with aiosqlite.connect(tmp_path / "m.db") as db:
        lite = await build_report(SqliteQuery(db), WEEK, TZ, 10, hosted=HOSTED + ["a_b.example"], relays=[RELAY])
    async with report_query(pg_settings, readonly=True) as (query, _, _):
        pgr = await build_report(query, WEEK, TZ, 10, hosted=HOSTED + ["a_b.example"], relays=[RELAY])
    assert pgr == lite
    assert pgr.flagged_clear.messages == 3 and pgr.tls.clear_relays and pgr.tls.relayed_inbound == 2
    assert pgr.health.tls_decision_failed == 2
    metrics = Metrics()
    watch = FlaggedClearWatch(pg_settings, flagged_clear_deliveries(metrics), frozenset({RELAY}),
                              clock=lambda: t(2026, 11, 26, 13))
    assert await watch(deliveries) == 3
