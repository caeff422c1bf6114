"""Report rows in the store (migration 6) and the summary's figures from them, against
SQLite and PostgreSQL alike: several reporters, a report sent twice counted once, an
unauthenticated reporter kept apart, a customer's scope, the retention purge, and no
person's address or IP anywhere in the tables."""

from __future__ import annotations

import aiosqlite
import pytest

from privacy_filters.reports import dmarc, tlsrpt
from privacy_filters.reports_filter import to_rows
from privacy_milter.policy import StoreSettings
from privacy_milter.store import BufferedWriter, SqliteBackend
from privacy_milter.store.postgres import PostgresBackend
from privacy_milter.store.reports import write_report
from privacy_milter.summary import reports_section
from privacy_milter.summary.queries import POSTGRESQL, SQLITE, Dialect
from tests.unit.reports_samples import dmarc_xml, tlsrpt_json
from tests.unit.test_store import pg, pg_conninfo  # noqa: F401  (pg: the module's PostgreSQL fixture)

NOW = 1764500000.0  # inside the window used below
LIMIT = 1 << 20
SHOP, LAW = "shop.example", "law.example"


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    if request.param == "postgresql":
        conninfo = pg_conninfo(request.getfixturevalue("pg"))
        return StoreSettings(backend="postgresql", conninfo=conninfo, host_name="mx1.test")
    return StoreSettings(backend="sqlite", path=tmp_path / "db" / "meta.db", host_name="mx1.test")


def backend(s: StoreSettings):
    if s.backend == "postgresql":
        return PostgresBackend(s.conninfo, host="mx1.test")
    return SqliteBackend(s.path, host="mx1.test")


class Fetch:
    """The summary's Query seam over either database."""

    def __init__(self, s: StoreSettings) -> None:
        self.s = s
        self.dialect: Dialect = POSTGRESQL if s.backend == "postgresql" else SQLITE

    async def fetch(self, sql, params):
        if self.s.backend == "postgresql":
            import psycopg
            from psycopg import AsyncRawCursor

            async with await psycopg.AsyncConnection.connect(self.s.conninfo, autocommit=True) as conn, \
                    AsyncRawCursor(conn) as cur:
                await cur.execute(self.dialect.sql(sql), tuple(params) or None)
                return [tuple(r) for r in await cur.fetchall()]
        async with aiosqlite.connect(self.s.path) as db, db.execute(sql, tuple(params)) as cur:
            return [tuple(r) for r in await cur.fetchall()]


def tls(org, rid, domain, ok, failures):
    return tlsrpt.parse(tlsrpt_json(org, rid, domain, ok, failures), LIMIT)


def dm(org, rid, domain, rows):
    return dmarc.parse(dmarc_xml(org, rid, domain, rows), LIMIT)


async def seed(s: StoreSettings, when: float = NOW) -> None:
    w = BufferedWriter(backend(s))
    await w.setup()  # migrates (6 included)
    await w.close()
    for report, auth in [
        (tls("Google Inc.", "g-1", SHOP, 900, {"certificate-expired": 4, "sts-policy-fetch-error": 1}), True),
        (tls("Google Inc.", "g-1", SHOP, 900, {"certificate-expired": 4, "sts-policy-fetch-error": 1}), True),
        (tls("Microsoft Corporation", "m-7", SHOP, 250, {"starttls-not-supported": 2}), True),
        (tls("Microsoft Corporation", "m-8", LAW, 40, {}), True),
        (tls("Google Inc.", "forged-1", SHOP, 0, {"certificate-expired": 999}), False),
        (dm("google.com", "d-1", SHOP, [("192.0.2.25", 120, SHOP, "pass", "pass", "none"),
                                        ("198.51.100.9", 30, SHOP, "fail", "pass", "none")]), True),
        (dm("yahoo.com", "y-1", SHOP, [("192.0.2.25", 50, SHOP, "pass", "fail", "none"),
                                       ("203.0.113.66", 7, SHOP, "fail", "fail", "reject")]), True),
        (dm("google.com", "forged-2", LAW, [("192.0.2.99", 1000, LAW, "fail", "fail", "none")]), False),
    ]:
        await write_report(s, to_rows(report, when, "mx1.test", auth))


async def test_figures_per_domain_and_reporter(settings):
    await seed(settings)
    f = await reports_section.read_figures(Fetch(settings), NOW - 10, NOW + 10, None)
    assert [(x.domain, x.reporter, x.successful, x.failed) for x in f.tlsrpt] == [
        (LAW, "Microsoft Corporation", 40, 0), (SHOP, "Google Inc.", 900, 5), (SHOP, "Microsoft Corporation", 250, 2)]
    assert f.tls_failures == ((SHOP, "certificate-expired", 4), (SHOP, "starttls-not-supported", 2),
                              (SHOP, "sts-policy-fetch-error", 1))
    assert [(x.domain, x.reporter, x.messages, x.dkim_aligned) for x in f.dmarc] == [
        (SHOP, "google.com", 150, 120), (SHOP, "yahoo.com", 57, 50)]
    assert f.dmarc[0].aligned_share == 80.0
    assert f.unsigned == ((SHOP, "198.51.100.9", 30), (SHOP, "203.0.113.66", 7))
    assert f.unauthenticated == (("TLS-RPT", "Google Inc.", 1), ("DMARC", "google.com", 1))


async def test_a_customers_scope_shows_its_own_domain_only(settings):
    await seed(settings)
    f = await reports_section.read_figures(Fetch(settings), NOW - 10, NOW + 10, LAW)
    assert [(x.domain, x.successful) for x in f.tlsrpt] == [(LAW, 40)]
    assert f.dmarc == () and f.unsigned == () and f.unauthenticated == ()


async def test_retention_purges_report_rows(settings):
    await seed(settings, when=NOW - 400 * 86400)
    q = Fetch(settings)
    assert (await q.fetch("SELECT COUNT(*) FROM report_tls", ()))[0][0] == 4
    assert (await q.fetch("SELECT COUNT(*) FROM report_dmarc", ()))[0][0] == 5
    b = backend(settings)
    await b.open(None, daemon=False)
    try:
        await b.purge(NOW - 86400)
    finally:
        await b.close()
    assert (await q.fetch("SELECT COUNT(*) FROM report_tls", ()))[0][0] == 0
    assert (await q.fetch("SELECT COUNT(*) FROM report_dmarc", ()))[0][0] == 0


async def test_no_address_or_reporters_ip_is_stored(settings):
    await seed(settings)
    q = Fetch(settings)
    dump = repr(await q.fetch("SELECT * FROM report_tls", ())) + repr(await q.fetch("SELECT * FROM report_dmarc", ()))
    assert "@" not in dump                      # contact-info, DMARC <email>: dropped
    assert "2001:db8:abcd" not in dump          # TLS-RPT sending-mta-ip: dropped
    assert "203.0.113.56" not in dump           # our receiving IP: dropped
    assert "https://" not in dump               # additional-information, extra_contact_info


async def test_the_weekly_summary_and_a_customers_summary_show_them(settings):
    if settings.backend != "sqlite":
        pytest.skip("the figures' SQL is checked on both backends above; this is the layout")
    from zoneinfo import ZoneInfo

    from privacy_milter.summary.queries import SqliteQuery, build_report
    from privacy_milter.summary.render import render_text
    from privacy_milter.summary.source import stand_in

    await seed(settings)
    async with aiosqlite.connect(settings.path) as db:
        await stand_in(db)
        admins = render_text(await build_report(SqliteQuery(db), "2025-W48", ZoneInfo("UTC"), 10))
        law = render_text(await build_report(SqliteQuery(db), "2025-W48", ZoneInfo("UTC"), 10, scope=LAW))
    rows = {" ".join(line.split()) for line in admins.splitlines()}
    assert "HOW OTHERS DELIVERED TO US (TLS-RPT)" in rows
    assert {"shop.example Google Inc. 900 5", "shop.example Microsoft Corporation 250 2",
            "law.example Microsoft Corporation 40 0"} <= rows
    assert {"shop.example certificate-expired (act on it) 4", "shop.example sts-policy-fetch-error (act on it) 1",
            "shop.example starttls-not-supported (act on it) 2"} <= rows
    assert {"shop.example google.com 150 80.0%", "shop.example yahoo.com 57 87.7%"} <= rows
    assert {"shop.example 198.51.100.9 30", "shop.example 203.0.113.66 7"} <= rows
    assert {"TLS-RPT Google Inc. 1", "DMARC google.com 1"} <= rows
    assert "999" not in admins and "1,000" not in admins  # the forged figures are not added in
    customer = {" ".join(line.split()) for line in law.splitlines()}
    assert "law.example Microsoft Corporation 40 0" in customer and "shop.example" not in law
    assert "KEPT APART" not in law and "Google" not in law
