"""The reports filter offline: its settings, other mail answered at once, a report stored
(apart when unauthenticated), a hostile one refused with nothing stored, an oversized one
refused unread. The store is a real SQLite file migrated by its backend."""

from __future__ import annotations

import sqlite3

import pytest

from privacy_filters.reports_filter import ReportsFilter
from privacy_milter import policy as policy_mod
from privacy_milter.model import Message, Recipient, Session
from privacy_milter.plugin import FilterContext
from privacy_milter.services import Services
from privacy_milter.store.reports import StoreReports
from privacy_milter.store import SqliteBackend
from tests.unit.reports_samples import BILLION_LAUGHS, dmarc_mail, dmarc_xml, tlsrpt_json, tlsrpt_mail


def problems(text: str) -> list[str]:
    with pytest.raises(policy_mod.PolicyError) as info:
        policy_mod.parse(text, "p.toml")
    return info.value.problems


def test_settings_and_their_errors():
    p = policy_mod.parse('[filters.reports]\ntlsrpt = ["TLSRPT@Host.example"]\ndmarc = ["dmarc@host.example"]\n')
    s = p.settings("reports")
    assert (s.tlsrpt, s.dmarc, s.max_report_bytes) == (("tlsrpt@host.example",), ("dmarc@host.example",), 20 << 20)
    found = "\n".join(problems('[filters.reports]\ntlsrpt = ["nobody", "r@h.example"]\ndmarc = ["r@h.example"]\n'
                               'max_report_mb = 1000\n'))
    assert 'filters.reports.tlsrpt: item 1 ("nobody"): not an address' in found
    assert "filters.reports.dmarc: an address cannot take both TLS-RPT and DMARC reports" in found
    assert "filters.reports.max_report_mb: must be at most 200" in found


async def no_txt(name: str) -> list[bytes]:
    return []


@pytest.fixture
async def setup(tmp_path):
    path = tmp_path / "meta.db"
    backend = SqliteBackend(path, host="mx1.test")
    await backend.open(None, daemon=False)  # the schema, migration 6 included
    await backend.close()
    p = policy_mod.parse(f'[store]\npath = "{path}"\n[network]\nhosted_domains = ["shop.example"]\n'
                         '[filters.reports]\ntlsrpt = ["tlsrpt@host.example"]\n'
                         'dmarc = ["dmarc@host.example"]\nmax_message_mb = 1\n')
    services = Services(dns_txt=no_txt, host_name="mx1.test", clock=lambda: 1764500000.0,
                        reports=StoreReports(p.store))
    return ReportsFilter(p.settings("reports"), services), FilterContext(p.site, services), path


def message(raw: bytes, rcpt: str) -> Message:
    return Message(Session("c1", client_addr="192.0.2.1"), mail_from="r@google.example",
                   recipients=[Recipient(rcpt)], source=raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def count(path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


async def test_other_mail_is_answered_at_once(setup):
    f, ctx, _ = setup
    result = f.decide(message(b"From: a@b.example\n\nhi\n", "bob@host.example"), ctx)
    assert result is not None and result.facts == ()
    assert f.decide(message(b"From: a@b.example\n\nhi\n", "TLSRPT@host.example"), ctx) is None


async def test_an_unsigned_report_is_stored_apart(setup):
    f, ctx, path = setup
    raw = tlsrpt_mail("Google Inc.", "noreply@google.example", "tlsrpt@host.example", "shop.example",
                      tlsrpt_json("Google Inc.", "r-1", "shop.example", 10, {"certificate-expired": 1}))
    result = await f.check(message(raw, "tlsrpt@host.example"), ctx)
    assert dict(result.facts) == {"report": "tlsrpt", "report_result": "unauthenticated"}
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT reporter, authenticated, successful, failed, failures, host, time "
                          "FROM report_tls").fetchall() == [
            ("Google Inc.", 0, 10, 1, "certificate-expired:1", "mx1.test", 1764500000.0)]


async def test_hostile_and_oversized_reports_store_nothing(setup, caplog):
    f, ctx, path = setup
    bad = dmarc_mail("g.example", "d@g.example", "dmarc@host.example", "shop.example", BILLION_LAUGHS, "r.xml",
                     "text/xml")
    result = await f.check(message(bad, "dmarc@host.example"), ctx)
    assert dict(result.facts) == {"report": "dmarc", "report_result": "refused", "report_refused": "entities"}
    big = dmarc_mail("g.example", "d@g.example", "dmarc@host.example", "shop.example",
                     dmarc_xml("g.example", "1", "shop.example", [("192.0.2.1", 1, "shop.example", "pass",
                                                                   "pass", "none")] * 5000), "r.xml", "text/xml")
    result = await f.check(message(big, "dmarc@host.example"), ctx)
    assert dict(result.facts)["report_refused"] == "too_large"
    assert count(path, "report_dmarc") == 0
    assert "dmarc report refused (entities)" in caplog.text and "nothing stored" in caplog.text


def test_policy_check_warns_about_reports_never_read():
    from privacy_filters.reports_filter import warnings

    listed = policy_mod.parse('[pipeline]\nfilters = ["dlp", "reports"]\n')
    assert warnings(listed) == ['"reports" is in [pipeline] filters but [filters.reports] names no tlsrpt or '
                                "dmarc address: it reads nothing (docs/REPORTS.md)"]
    unlisted = policy_mod.parse('[filters.reports]\ndmarc = ["dmarc@host.example"]\n')
    assert "the reports are delivered unread" in warnings(unlisted)[0]
    both = policy_mod.parse('[pipeline]\nfilters = ["reports"]\n[filters.reports]\ndmarc = ["dmarc@host.example"]\n')
    assert warnings(both) == []


async def test_a_signed_report_counts_under_its_signer_and_only_for_hosted_domains(tmp_path):
    """Anyone can DKIM-sign their own mail: a report signed by evil.example that claims to
    be Google's is stored under evil.example, and figures about a domain we do not host are
    not stored at all."""
    from privacy_filters.dkim.keys import dns_record, keygen, load_key
    from privacy_filters.dkim.settings import DkimSettings
    from privacy_filters.dkim.sign import sign

    path = tmp_path / "meta.db"
    backend = SqliteBackend(path, host="mx1.test")
    await backend.open(None, daemon=False)
    await backend.close()
    key_path, _ = keygen("evil.example", "s1", "rsa-sha256", tmp_path)
    key = load_key(key_path, "rsa-sha256", "s1")

    async def txt(name: str) -> list[bytes]:
        return [dns_record(key).encode()] if name.rstrip(".") == "s1._domainkey.evil.example" else []

    p = policy_mod.parse(f'[store]\npath = "{path}"\n[network]\nhosted_domains = ["shop.example"]\n'
                         '[filters.reports]\ntlsrpt = ["tlsrpt@host.example"]\n')
    services = Services(dns_txt=txt, host_name="mx1.test", clock=lambda: 1764500000.0, reports=StoreReports(p.store))
    f, ctx = ReportsFilter(p.settings("reports"), services), FilterContext(p.site, services)

    def signed(domain: str, rid: str) -> bytes:
        raw = tlsrpt_mail("Google Inc.", "noreply@evil.example", "tlsrpt@host.example", domain,
                          tlsrpt_json("Google Inc.", rid, domain, 5, {"certificate-expired": 500}))
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        for name, value in sign(raw, "evil.example", [key], DkimSettings(keys={"evil.example": (key,)})):
            raw = f"{name}: {value}\r\n".encode() + raw
        return raw

    result = await f.check(message(signed("shop.example", "e-1"), "tlsrpt@host.example"), ctx)
    assert dict(result.facts)["report_result"] == "stored"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT reporter, policy_domain, authenticated FROM report_tls").fetchall() == [
            ("evil.example", "shop.example", 1)]
    result = await f.check(message(signed("bank.example", "e-2"), "tlsrpt@host.example"), ctx)
    assert dict(result.facts)["report_result"] == "not_hosted"
    assert count(path, "report_tls") == 1
