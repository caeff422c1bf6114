"""parse_line and the pairer against recorded Postfix 3.7 lines (tests/unit/maillog/data)."""

from __future__ import annotations

from dataclasses import astuple
from datetime import UTC, datetime, timedelta, timezone

from privacy_milter.maillog.follow import MemoryPositionStore
from privacy_milter.maillog.pair import Pairer
from privacy_milter.maillog.parse import (
    DeliveryLine, LineKind, TlsEstablished, TlsFailure, TlsLevel, classify_line, parse_line)

from maillog_helpers import DATA, NOW, follower, rows

# What the recorded run delivered: (queue id, domain, TLS level, status, TLS-RPT reason)
EXPECTED = [
    ("AE3042101B0", "dane.e2e.test", "verified", "sent", None),
    ("E7B5B2101B0", "sts.e2e.test", "clear", "deferred", "starttls-not-supported"),
    ("E7B5B2101B0", "sts.e2e.test", "verified", "sent", None),
    ("37CC32101B0", "stsbad.e2e.test", "encrypted", "deferred", "certificate-not-trusted"),
    ("6D89D2101B9", "pinned.e2e.test", "clear", "deferred", "starttls-not-supported"),
    ("1C1E32101C2", "tls.e2e.test", "encrypted", "sent", None),
    ("3C39D2101C2", "dane.e2e.test", "verified", "sent", None),
    ("6340F2101C2", "badtlsa.e2e.test", "encrypted", "deferred", "tlsa-invalid"),
    ("84D242101C5", "tls.e2e.test", "encrypted", "sent", None),
    ("B55702101CF", "tls.e2e.test", "encrypted", "sent", None),
    ("0A1B22101D0", "plain.e2e.test", "clear", "sent", None),
    ("0A1B22101D0", "plain.e2e.test", "clear", "sent", None),
    ("1B2C32101D1", "old.e2e.test", "encrypted", "deferred", "certificate-expired"),
    ("2C3D42101D2", "gone.e2e.test", "clear", "bounced", None),
]


def test_the_recorded_log_yields_every_delivery_with_its_tls_facts(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes((DATA / "postfix37-maillog_file.log").read_bytes())
    f = follower(path, MemoryPositionStore())
    got = f.poll()
    assert rows(got) == EXPECTED
    assert {d.tls_version for d in got if d.tls_level != "clear"} == {"TLSv1.3", "TLSv1.2"}
    assert all(d.tls_version is None for d in got if d.tls_level == "clear")
    assert got[0].relay == "mx.dane.e2e.test" and got[0].dsn == "2.0.0" and got[0].host == "mx"
    assert got[0].time == datetime(2026, 12, 2, 19, 27, 36, tzinfo=UTC)
    assert f.stats.deliveries == 14 and f.stats.unparsed == 0 and f.stats.other == 65 and f.stats.lines == 91


def test_no_local_part_and_no_reply_text_in_any_delivery(tmp_path):
    path = tmp_path / "maillog"
    path.write_bytes((DATA / "postfix37-maillog_file.log").read_bytes())
    for d in follower(path, MemoryPositionStore()).poll():
        text = repr(astuple(d))
        assert "LOCALPART" not in text and "@" not in text
        assert "Recipient address rejected" not in text and "OK sink" not in text


def test_the_program_tag_may_name_a_service():
    line = ("Dec 02 19:27:38 mx postfix/privacy-encrypt/smtp[27378]: Verified TLS connection "
            "established to mx.dane.e2e.test[127.0.0.21]:25: TLSv1.3 with cipher "
            "TLS_AES_256_GCM_SHA384 (256/256 bits)")
    ev = parse_line(line, now=NOW, tz=UTC)
    assert ev == TlsEstablished(datetime(2026, 12, 2, 19, 27, 38, tzinfo=UTC),
                                "mx", "postfix/privacy-encrypt/smtp", 27378, TlsLevel.VERIFIED,
                                "TLSv1.3", "TLS_AES_256_GCM_SHA384",
                                "mx.dane.e2e.test[127.0.0.21]:25")


def test_rsyslog_formats_traditional_and_iso():
    trad = ("Dec  2 19:27:36 mx postfix/smtp[9]: ABCDEF123: to=<x@Example.ORG.>, "
            "relay=mx.example.org[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, "
            "status=sent (250 ok)")
    d = parse_line(trad, now=NOW, tz=UTC)
    assert isinstance(d, DeliveryLine)
    assert (d.time.day, d.rcpt_domain, d.relay, d.status) == (2, "example.org",
                                                             "mx.example.org[192.0.2.1]:25", "sent")
    iso = ("2026-12-02T19:27:36.123456+01:00 mx postfix/smtp[9]: ABCDEF123: to=<x@example.org>,"
           " relay=mx.example.org[192.0.2.1]:25, conn_use=2, delay=1, delays=0/0/0/1, "
           "dsn=4.4.1, status=deferred (connect timed out)")
    d = parse_line(iso, now=NOW)
    assert isinstance(d, DeliveryLine)
    assert d.time == datetime(2026, 12, 2, 18, 27, 36, 123456, tzinfo=UTC)
    assert d.time.utcoffset() == timedelta(hours=1) and d.reason is None


def test_a_year_less_december_line_read_in_january_is_last_year():
    jan = datetime(2027, 1, 1, 0, 5, tzinfo=timezone.utc)
    d = parse_line("Dec 31 23:59:59 mx postfix/smtp[1]: Anonymous TLS connection established"
                   " to a[192.0.2.1]:25: TLSv1.2 with cipher X", now=jan, tz=UTC)
    assert d is not None and d.time.year == 2026


def test_failure_lines_classify_into_tls_rpt_reasons():
    def reason(msg: str) -> str | None:
        ev = parse_line(f"Dec 02 10:00:00 mx postfix/smtp[5]: {msg}", now=NOW, tz=UTC)
        return ev.reason if isinstance(ev, TlsFailure) else None
    assert reason("server certificate verification failed for a[192.0.2.1]:25: "
                  "num=62:hostname mismatch") == "certificate-host-mismatch"
    assert reason("certificate verification failed for a[192.0.2.1]:25: self-signed "
                  "certificate") == "certificate-not-trusted"
    assert reason("server certificate verification failed for a[192.0.2.1]:25: "
                  "num=10:certificate has expired") == "certificate-expired"
    assert reason("server certificate verification failed for a[192.0.2.1]:25: "
                  "num=65:no matching DANE TLSA records") == "tlsa-invalid"
    assert reason("warning: TLSA lookup error for a.example:25") == "dnssec-invalid"
    assert reason("a[192.0.2.1]:25: all TLSA records unusable") == "tlsa-invalid"


def test_odd_lines_are_classified_never_raised():
    for junk in [b"", b"\x00\xff\xfe binary", b"Dec 99 10:00:00 mx postfix/smtp[1]: x",
                 b"Feb 30 10:00:00 mx postfix/smtp[1]: x", b"no header at all",
                 "Dec 02 10:00:00 mx postfix/smtp[1]: caf\u00e9 \udcff".encode("utf-8", "surrogatepass")]:
        assert classify_line(junk, now=NOW, tz=UTC)[0] is LineKind.UNPARSED, junk
    assert classify_line(b"Dec 02 10:00:00 mx postfix/qmgr[1]: ABC: removed",
                         now=NOW, tz=UTC) == (LineKind.OTHER, None)
    assert classify_line(b"Dec 02 10:00:00 mx postfix/smtp[1]: warning: odd",
                         now=NOW, tz=UTC) == (LineKind.OTHER, None)


def test_an_address_in_a_domain_position_never_survives():
    line = ('Dec 02 10:00:00 mx postfix/smtp[1]: ABCDE1: to=<"a@b"@x<script>.example>, '
            'relay=none, delay=1, delays=0/0/0/1, dsn=5.1.2, status=bounced (bad)')
    d = parse_line(line, now=NOW, tz=UTC)
    assert isinstance(d, DeliveryLine) and d.rcpt_domain == "(invalid)"
    d2 = parse_line(line.replace('<"a@b"@x<script>.example>', "<postmaster>"), now=NOW, tz=UTC)
    assert d2 is None or (isinstance(d2, DeliveryLine) and d2.rcpt_domain == "(none)")


def test_policy_comes_from_the_injected_callable_and_a_failing_one_costs_nothing():
    tls = parse_line("Dec 02 10:00:00 mx postfix/smtp[7]: Verified TLS connection established "
                     "to mx.a.example[192.0.2.1]:25: TLSv1.3 with cipher X", now=NOW, tz=UTC)
    dl = parse_line("Dec 02 10:00:00 mx postfix/smtp[7]: ABCDE1: to=<u@a.example>, "
                    "relay=mx.a.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, "
                    "status=sent (250 ok)", now=NOW, tz=UTC)
    assert tls is not None and dl is not None
    p = Pairer(lambda dom: {"a.example": "dane"}[dom])
    assert p.feed(tls) is None
    d = p.feed(dl)
    assert d is not None and (d.policy, d.tls_level) == ("dane", "verified")
    d = Pairer(lambda dom: 1 / 0 and "x").feed(dl)     # type: ignore[arg-type]
    assert d is not None and (d.policy, d.tls_level) == ("unknown", "clear")


def test_the_same_pid_on_two_hosts_of_one_central_log_are_two_sessions():
    tls = ("Dec 02 10:00:00 mx1 postfix/smtp[7]: Verified TLS connection established "
           "to mx.a.example[192.0.2.1]:25: TLSv1.3 with cipher X")
    dl = ("Dec 02 10:00:00 {host} postfix/smtp[7]: ABCDE1: to=<u@a.example>, "
          "relay=mx.a.example[192.0.2.1]:25, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (ok)")
    p = Pairer()
    p.feed(parse_line(tls, now=NOW, tz=UTC))
    other = p.feed(parse_line(dl.format(host="mx2"), now=NOW, tz=UTC))
    same = p.feed(parse_line(dl.format(host="mx1"), now=NOW, tz=UTC))
    assert other is not None and (other.host, other.tls_level) == ("mx2", "clear")
    assert same is not None and (same.host, same.tls_level) == ("mx1", "verified")


def test_journalctl_short_iso_lines_parse_too():
    line = ("2026-12-02T19:27:36+0000 mx postfix/smtp[27298]: AE3042101B0: to=<x@dane.example>, "
            "relay=mx.dane.example[192.0.2.21]:25, delay=0.13, delays=0.06/0.03/0.03/0, "
            "dsn=2.0.0, status=sent (250 2.0.0 OK)")
    d = parse_line(line)
    assert isinstance(d, DeliveryLine)
    assert d.time == datetime(2026, 12, 2, 19, 27, 36, tzinfo=UTC) and d.rcpt_domain == "dane.example"
