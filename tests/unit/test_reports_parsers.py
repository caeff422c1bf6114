"""The report readers, pure and bounded: TLS-RPT JSON, DMARC XML, gzip and zip, and the
report mails; each hostile input a ReportRefused with its reason, in bounded time."""

from __future__ import annotations

import gzip
import time

import pytest

from privacy_filters.reports import ReportRefused, dmarc, mail, tlsrpt, unpack
from tests.unit.reports_samples import (BILLION_LAUGHS, dmarc_mail, dmarc_xml, gzip_bomb, tlsrpt_json,
                                        tlsrpt_mail, zipped)

LIMIT = 1 << 20


def test_tlsrpt_rfc8460_example_is_reduced_to_aggregate_metadata():
    raw = tlsrpt_json("Company-X", "5065427c-23d3-47ca-b6e0-946ea0e8c4be", "company-y.example", 5326,
                      {"certificate-expired": 100, "starttls-not-supported": 200, "validation-failure": 3})
    report = tlsrpt.parse(raw, LIMIT)
    assert report.organization == "Company-X" and report.report_id == "5065427c-23d3-47ca-b6e0-946ea0e8c4be"
    assert report.end - report.begin == 86399
    (policy,) = report.policies
    assert policy == tlsrpt.PolicyResult("sts", "company-y.example", 5326, 303, (
        ("certificate-expired", 100), ("starttls-not-supported", 200), ("validation-failure", 3)))
    assert "2001:db8" not in repr(report) and "sts-reporting@" not in repr(report)


def test_dmarc_rfc7489_report_with_and_without_namespace():
    rows = [("192.0.2.25", 12, "shop.example", "pass", "pass", "none"),
            ("198.51.100.7", 3, "Shop.Example", "fail", "pass", "none")]
    for ns in (False, True):
        report = dmarc.parse(dmarc_xml("google.com", "1234567890", "shop.example", rows, ns=ns), LIMIT)
        assert (report.organization, report.report_id, report.policy_domain, report.policy) == (
            "google.com", "1234567890", "shop.example", "none")
        assert report.rows == (dmarc.DmarcRow("192.0.2.25", 12, "shop.example", "pass", "pass", "none"),
                               dmarc.DmarcRow("198.51.100.7", 3, "shop.example", "fail", "pass", "none"))
        assert "noreply-dmarc-support" not in repr(report)


def test_gzip_and_zip_unpack_and_sniff():
    data = b"<feedback/>"
    assert unpack.expand(gzip.compress(data), LIMIT) == data
    assert unpack.expand(zipped("google.com!shop.example!1!2.xml", data), LIMIT) == data
    assert unpack.expand(data, LIMIT) == data


@pytest.mark.parametrize("name, make, reason", [
    ("gzip bomb (1 GB of zeros)", lambda: unpack.expand(gzip_bomb(1 << 30), LIMIT), "too_large"),
    ("zip bomb", lambda: unpack.expand(zipped("r.xml", b"\0" * (64 << 20)), LIMIT), "too_large"),
    ("100 MB XML", lambda: dmarc.parse(b"<feedback>" + b"<x/>" * (25 << 20), 20 << 20), "too_large"),
    ("entity expansion", lambda: dmarc.parse(BILLION_LAUGHS, LIMIT), "entities"),
    ("external entity", lambda: dmarc.parse(b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY x SYSTEM '
                                            b'"file:///etc/passwd">]><feedback>&x;</feedback>', LIMIT), "entities"),
    ("malformed JSON", lambda: tlsrpt.parse(b'{"organization-name": "x", ', LIMIT), "malformed"),
    ("deeply nested JSON", lambda: tlsrpt.parse(b"[" * 200000 + b"]" * 200000, LIMIT), "malformed"),
    ("JSON of the wrong shape", lambda: tlsrpt.parse(b'{"organization-name": 5}', LIMIT), "malformed"),
    ("negative count", lambda: tlsrpt.parse(tlsrpt_json("X", "1", "d.example", -1, {}), LIMIT), "malformed"),
    ("truncated gzip", lambda: unpack.expand(gzip.compress(b"x" * 1000)[:-12], LIMIT), "malformed"),
    ("broken zip", lambda: unpack.expand(b"PK\x03\x04garbage", LIMIT), "malformed"),
    ("zip of two XML files", lambda: unpack.expand(_two_xml(), LIMIT), "not_a_report"),
    ("not XML", lambda: dmarc.parse(b"<feedback><unclosed></feedback>", LIMIT), "malformed"),
    ("other XML", lambda: dmarc.parse(b"<html/>", LIMIT), "not_a_report"),
    ("bad source IP", lambda: dmarc.parse(dmarc_xml("g.com", "1", "d.example", [("me@x", 1, "d.example", "pass",
                                                                               "pass", "none")]), LIMIT), "malformed"),
])
def test_hostile_reports_are_refused_within_bounds(name, make, reason):
    started = time.monotonic()
    with pytest.raises(ReportRefused) as info:
        make()
    assert info.value.reason == reason, (name, str(info.value))
    assert time.monotonic() - started < 20, name


def _two_xml() -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.xml", b"<feedback/>")
        z.writestr("b.xml", b"<feedback/>")
    return buf.getvalue()


def test_report_mails_are_read_whatever_the_packaging():
    rep = tlsrpt_json("Microsoft Corporation", "133-1", "shop.example", 40, {"sts-policy-fetch-error": 2})
    for gz in (True, False):
        raw = tlsrpt_mail("microsoft.com", "tlsrpt-noreply@microsoft.com", "tlsrpt@host.example",
                          "shop.example", rep, gz=gz)
        parsed = mail.read(raw, "tlsrpt", LIMIT)
        assert isinstance(parsed, tlsrpt.TlsRptReport) and parsed.policies[0].failed == 2
    xml = dmarc_xml("yahoo.com", "y-1", "shop.example", [("192.0.2.25", 5, "shop.example", "pass", "fail", "none")])
    for attachment, filename, ctype in (
            (zipped("yahoo.com!shop.example!1!2.xml", xml), "yahoo.com!shop.example!1!2.zip", "application/zip"),
            (gzip.compress(xml), "yahoo.com!shop.example!1!2.xml.gz", "application/gzip"),
            (gzip.compress(xml), "report.xml.gz", "application/octet-stream"),
            (xml, "report.xml", "text/xml")):
        raw = dmarc_mail("yahoo.com", "dmarc@yahoo.com", "dmarc@host.example", "shop.example", attachment,
                         filename, ctype)
        parsed = mail.read(raw, "dmarc", LIMIT)
        assert isinstance(parsed, dmarc.DmarcReport) and parsed.rows[0].count == 5, filename
    assert mail.from_domain(raw) == "yahoo.com"


def test_a_mail_without_a_report_is_refused_as_not_a_report():
    raw = b"From: a@b.example\r\nTo: dmarc@host.example\r\nSubject: hi\r\n\r\nhello\r\n"
    with pytest.raises(ReportRefused) as info:
        mail.read(raw, "dmarc", LIMIT)
    assert info.value.reason == "not_a_report"
