"""build_report over a seeded SQLite store: every figure, the week before, DST, scope, empty."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import aiosqlite
import pytest

from summary_seed import DST_WEEK, OLDEST, PREV, TZ, WEEK, seed  # type: ignore[import-not-found]

from privacy_milter.summary.deliveries_schema import DDL
from privacy_milter.summary.model import CategoryAction, Count, CustomerRow, DayShare, ScannerRow, Totals
from privacy_milter.summary.queries import POSTGRESQL, SqliteQuery, Window, build_report, previous_week
from privacy_milter.summary.source import store_tables_ddl


@pytest.fixture
async def query(tmp_path):
    path = tmp_path / "metadata.db"
    await seed(path)
    async with aiosqlite.connect(path) as db:
        yield SqliteQuery(db)


async def test_every_figure_of_the_seeded_week(query):
    r = await build_report(query, WEEK, TZ, top_n=10, retention_days=60)
    assert r.period_start == datetime(2026, 11, 23, tzinfo=TZ)
    assert r.period_end == datetime(2026, 11, 30, tzinfo=TZ)
    assert r.totals == Totals(messages_in=10, messages_out=9, encrypted_in=9, encrypted_out=3,
                              findings_stopped=4, deliveries_out=6)
    assert r.previous == Totals(messages_in=4, messages_out=2, encrypted_in=2, encrypted_out=1,
                                findings_stopped=1, deliveries_out=2)
    tls = r.tls
    assert tls.inbound_by_version == (Count("TLSv1.3", 7), Count("TLSv1.2", 2), Count("none", 1))
    assert tls.outbound_by_level == (Count("clear", 3), Count("verified", 2), Count("encrypted", 1))
    assert tls.outbound_by_policy == (Count("opportunistic", 4), Count("dane", 1), Count("mta-sts", 1))
    assert tls.clear_domains == (Count("plain.example", 2), Count("old.example", 1))
    assert tls.failures_by_reason == (Count("certificate-expired", 1), Count("starttls-not-supported", 1))
    assert (tls.refused_for_tls, tls.held_for_tls) == (1, 1)
    monday = date(2026, 11, 23)
    assert tls.by_day == tuple(DayShare(monday + timedelta(days=i), *v) for i, v in enumerate(
        [(1, 1, 0, 0), (5, 5, 0, 0), (2, 2, 0, 0), (1, 0, 0, 0), (0, 0, 3, 2), (0, 0, 3, 1), (1, 1, 0, 0)]))
    assert r.findings.by_category_action == (CategoryAction("iban", "reject", 3),
                                             CategoryAction("card", "quarantine", 1),
                                             CategoryAction("nino", "reject", 1))
    assert r.findings.top_senders == (Count("shop.example", 3), Count("clinic.example", 1))
    assert r.scanners.by_customer == (ScannerRow("clinic.example", "spam", "tag", 2),
                                      ScannerRow("clinic.example", "virus", "pass", 2),
                                      ScannerRow("shop.example", "spam", "pass", 7),
                                      ScannerRow("shop.example", "virus", "pass", 6),
                                      ScannerRow("shop.example", "virus", "reject", 1))
    assert r.scanners.errors == 1
    assert (r.health.tempfails, r.health.filter_errors, r.health.unparsed_log_lines) == (1, 1, 3)
    assert r.retention.window_days == 60
    assert r.retention.oldest_record == datetime.fromtimestamp(OLDEST, TZ)
    assert (r.health.restarts, r.health.reloads_ok, r.health.reloads_refused, r.health.store_write_failures) == \
        (1, 2, 1, 1)
    assert r.retention.purged_this_week == 150  # the week before's purge (999) is not this week's
    assert "records purged" not in r.missing and "restarts" not in r.missing
    assert r.customers == (CustomerRow("shop.example", 8, 7, 7, 3, 3, 0, 1, deliveries_out=5),
                           CustomerRow("clinic.example", 2, 2, 2, 0, 1, 2, 0, deliveries_out=1))


async def test_top_n_and_hosted_limit_the_customer_table(query):
    r = await build_report(query, WEEK, TZ, top_n=1)
    assert [c.domain for c in r.customers] == ["shop.example"]
    assert r.findings.top_senders == (Count("shop.example", 3),)
    r = await build_report(query, WEEK, TZ, top_n=5, hosted=["clinic.example"])
    assert [c.domain for c in r.customers] == ["clinic.example"]


async def test_a_customer_scope_counts_only_its_mail(query):
    r = await build_report(query, WEEK, TZ, top_n=10, scope="Clinic.Example")
    assert r.scope == "clinic.example"
    assert r.totals == Totals(messages_in=2, messages_out=2, encrypted_in=2, encrypted_out=0,
                              findings_stopped=1, deliveries_out=1)
    assert r.tls.clear_domains == (Count("old.example", 1),)
    assert r.tls.failures_by_reason == (Count("certificate-expired", 1),)
    assert r.findings.by_category_action == (CategoryAction("iban", "reject", 1),
                                             CategoryAction("nino", "reject", 1))
    assert [c.domain for c in r.customers] == ["clinic.example"]
    assert r.health.tempfails == 0  # the operator's figures are not the customer's


async def test_the_dst_week_is_169_hours_and_its_days_are_local(query):
    r = await build_report(query, DST_WEEK, TZ, top_n=10)
    assert r.period_end - r.period_start == timedelta(days=7)       # wall clock
    w = Window.of(DST_WEEK, TZ)
    assert w.end - w.start == 169 * 3600                           # real time
    assert r.totals.messages_in == 4      # Mon 00:30 BST in; W42 Sunday and W44 Monday out
    days = [d.messages_in for d in r.tls.by_day]
    assert days == [1, 0, 0, 0, 0, 0, 3]   # the three Sunday ones stay on Sunday
    assert r.tls.by_day[6].day == date(2026, 10, 25)


async def test_the_week_before_is_absent_when_the_store_started_this_week(tmp_path):
    async with aiosqlite.connect(tmp_path / "m.db") as db:
        await db.executescript(store_tables_ddl() + ";\n" + DDL)
        r = await build_report(SqliteQuery(db), WEEK, TZ, top_n=10)
    assert r.is_empty and r.previous is None and r.retention.oldest_record is None
    assert r.totals == Totals() and r.customers == () and len(r.tls.by_day) == 7


def test_weeks_and_parameters():
    assert previous_week("2027-W01") == "2026-W53"
    assert POSTGRESQL.sql("a = ? AND b IN (?, ?)") == "a = $1 AND b IN ($2, $3)"
    assert POSTGRESQL.fact("spam") == "(m.facts::jsonb ->> 'spam')"
    with pytest.raises(ValueError):
        POSTGRESQL.fact("x'); DROP TABLE messages; --")
    with pytest.raises(ValueError):
        Window.of("2026-48", TZ)
    assert PREV == previous_week(WEEK)
