"""Report intake through a real Postfix and the real daemon: TLS-RPT and DMARC aggregate
reports in their real formats (tests/unit/reports_samples.py, from the RFCs' examples),
from several reporters, gzip, zip and plain, each DKIM-signed by its reporter (keys in the
DNS stub); a forged one unsigned; hostile ones (a 1 GB gzip bomb, entity expansion,
malformed JSON). Every report mail is delivered; the figures land in the store and in the
summary exactly; the hostile ones are refused within bounds, logged, and store nothing;
no address or IP of a person is in the store."""

from __future__ import annotations

import gzip
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, UTC
from pathlib import Path

import pytest

from privacy_filters.dkim.keys import dns_record, keygen, load_key
from privacy_filters.dkim.settings import DkimSettings
from privacy_filters.dkim.sign import sign
from tests.harness import smtp
from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink
from tests.unit.reports_samples import (BILLION_LAUGHS, dmarc_mail, dmarc_xml, gzip_bomb, tlsrpt_json,
                                        tlsrpt_mail, zipped)

pytestmark = pytest.mark.postfix

HOST, SHOP, LAW = "host.test", "shop.test", "law.test"
TLSRPT, DMARC = f"tlsrpt@{HOST}", f"dmarc@{HOST}"
REPORTERS = ("google.test", "microsoft.test", "yahoo.test")


def txt(record: str) -> str:
    return " ".join(f'"{record[i:i + 250]}"' for i in range(0, len(record), 250))


@pytest.fixture(scope="module")
def world():
    root = harness_dir("reports")
    stub = DnsStub().start()
    keys = {}
    (root / "keys").mkdir()
    for domain in REPORTERS:
        path, _ = keygen(domain, "r1", "rsa-sha256", root / "keys")
        keys[domain] = load_key(path, "rsa-sha256", "r1")
        stub.add(f"r1._domainkey.{domain}", "TXT", txt(dns_record(keys[domain])))
    policy = f"""
[network]
hosted_domains = ["{HOST}", "{SHOP}", "{LAW}"]
trusted_networks = ["127.0.0.1/32"]
[pipeline]
filters = ["reports"]
[filters.reports]
tlsrpt = ["{TLSRPT}"]
dmarc = ["{DMARC}"]
nameserver = "127.0.0.1:{stub.port}"
max_report_mb = 5
"""
    milter = MilterProcess(root / "milter", policy).start()
    sink = Sink().start()
    postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec,
                              relay_domains=[HOST, SHOP, LAW], mynetworks="127.0.0.0/8").start()
    try:
        yield keys, milter, postfix, sink
    finally:
        postfix.stop()
        sink.stop()
        milter.stop()
        stub.stop()
        shutil.rmtree(root, ignore_errors=True)


def crlf(raw: bytes) -> bytes:
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def signed(keys, domain: str, raw: bytes) -> bytes:
    raw = crlf(raw)
    out = raw
    for name, value in sign(raw, domain, [keys[domain]], DkimSettings(keys={domain: (keys[domain],)})):
        out = f"{name}: {value}\r\n".encode() + out
    return out


def deliver(postfix, sink, raw: bytes, sender: str, rcpt: str) -> None:
    before = sink.count()
    smtp.send(postfix.smtpd_port, raw, sender, [rcpt], source="127.0.0.9")
    sink.wait_for(before + 1, timeout=60)


def rows(milter: MilterProcess, sql: str) -> list[tuple]:
    with sqlite3.connect(milter.store_path) as db:
        return db.execute(sql).fetchall()


def test_reports_from_several_reporters_are_stored_and_summarised(world):
    keys, milter, postfix, sink = world
    g, m, y = REPORTERS
    mails = [
        (g, TLSRPT, tlsrpt_mail("Google Inc.", f"noreply-smtp-tls-reporting@{g}", TLSRPT, SHOP,
                                tlsrpt_json("Google Inc.", "2026-12-01T00:00:00Z_shop.test", SHOP, 1200,
                                            {"certificate-expired": 6, "sts-policy-fetch-error": 2}), gz=True)),
        (m, TLSRPT, tlsrpt_mail("Microsoft Corporation", f"tlsrpt-noreply@{m}", TLSRPT, SHOP,
                                tlsrpt_json("Microsoft Corporation", "133467-shop", SHOP, 300, {}), gz=False)),
        (m, TLSRPT, tlsrpt_mail("Microsoft Corporation", f"tlsrpt-noreply@{m}", TLSRPT, LAW,
                                tlsrpt_json("Microsoft Corporation", "133467-law", LAW, 45,
                                            {"starttls-not-supported": 1}), gz=True)),
        (g, DMARC, dmarc_mail(g, f"noreply-dmarc-support@{g}", DMARC, SHOP,
                              zipped(f"{g}!{SHOP}!1764547200!1764633599.xml",
                                     dmarc_xml(g, "98765", SHOP, [("192.0.2.25", 400, SHOP, "pass", "pass", "none"),
                                                                  ("198.51.100.9", 100, SHOP, "fail", "pass", "none")])),
                              f"{g}!{SHOP}!1764547200!1764633599.zip")),
        (y, DMARC, dmarc_mail(y, f"dmarc_support@{y}", DMARC, SHOP,
                              gzip.compress(dmarc_xml(y, "y-551", SHOP, [("192.0.2.25", 90, SHOP, "pass", "fail",
                                                                          "none")], ns=True)),
                              f"{y}!{SHOP}!1764547200!1764633599.xml.gz", "application/gzip")),
    ]
    for domain, rcpt, raw in mails:
        deliver(postfix, sink, signed(keys, domain, raw), f"reports@{domain}", rcpt)
    # a forged report: claims Google, carries no signature
    forged = dmarc_mail(g, f"noreply-dmarc-support@{g}", DMARC, SHOP,
                        dmarc_xml(g, "forged-1", SHOP, [("203.0.113.200", 5000, SHOP, "fail", "fail", "none")]),
                        "report.xml", "text/xml")
    deliver(postfix, sink, crlf(forged), f"x@{g}", DMARC)
    # a report sent twice is counted once
    deliver(postfix, sink, signed(keys, g, mails[0][2]), f"reports@{g}", TLSRPT)

    assert sorted(rows(milter, "SELECT reporter, policy_domain, successful, failed, failures, authenticated "
                               "FROM report_tls")) == [
        (g, SHOP, 1200, 8, "certificate-expired:6,sts-policy-fetch-error:2", 1),
        (m, LAW, 45, 1, "starttls-not-supported:1", 1),
        (m, SHOP, 300, 0, "", 1)]
    assert sorted(rows(milter, "SELECT reporter, source_ip, count, dkim, spf, authenticated FROM report_dmarc")) == [
        (g, "192.0.2.25", 400, "pass", "pass", 1),
        (g, "198.51.100.9", 100, "fail", "pass", 1),
        (g, "203.0.113.200", 5000, "fail", "fail", 0),
        (y, "192.0.2.25", 90, "pass", "fail", 1)]
    log = milter.log_path.read_text()
    # filed under the signing domain, not the organisation the report claims
    assert f"tlsrpt report from {g} (DKIM d={g}) stored: 1 row(s)" in log, log
    assert f"dmarc report from {g} (not authenticated: kept apart) stored: 1 row(s)" in log

    week = datetime.now(UTC).strftime("%G-W%V")
    out = subprocess.run([sys.executable, "-m", "privacy_milter.cli", "summary", "--policy", str(milter.policy_path),
                          "--preview", "--week", week], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    print(out.stdout)  # docs/REPORTS.md shows this output
    text = {" ".join(line.split()) for line in out.stdout.splitlines()}
    assert {f"{SHOP} {g} 1,200 8", f"{SHOP} {m} 300 0", f"{LAW} {m} 45 1"} <= text, out.stdout
    assert {f"{SHOP} certificate-expired (act on it) 6", f"{SHOP} sts-policy-fetch-error (act on it) 2"} <= text
    assert {f"{SHOP} {g} 500 80.0%", f"{SHOP} {y} 90 100.0%", f"{SHOP} 198.51.100.9 100"} <= text
    assert f"DMARC {g} 1" in text and "5,000" not in out.stdout


def test_hostile_reports_are_refused_within_bounds_and_store_nothing(world):
    keys, milter, postfix, sink = world
    g = REPORTERS[0]
    before = (rows(milter, "SELECT COUNT(*) FROM report_tls")[0][0],
              rows(milter, "SELECT COUNT(*) FROM report_dmarc")[0][0])
    bomb_part = gzip_bomb(1 << 30)  # 1 GB of zeros, about 1 MB on the wire
    bomb = crlf(tlsrpt_mail("Google Inc.", f"noreply@{g}", TLSRPT, SHOP, b"x"))
    from email import message_from_bytes
    from email.mime.application import MIMEApplication

    msg = message_from_bytes(bomb)
    payload = msg.get_payload()
    payload[1] = MIMEApplication(bomb_part, "tlsrpt+gzip")
    hostile = [
        (TLSRPT, signed(keys, g, msg.as_bytes()), "too_large"),
        (DMARC, signed(keys, g, dmarc_mail(g, f"noreply@{g}", DMARC, SHOP, BILLION_LAUGHS, "r.xml", "text/xml")),
         "entities"),
        (TLSRPT, signed(keys, g, tlsrpt_mail("Google Inc.", f"noreply@{g}", TLSRPT, SHOP,
                                             b'{"organization-name": "Google Inc.", "policies": [', gz=False)),
         "malformed"),
    ]
    for rcpt, raw, reason in hostile:
        started = time.monotonic()
        deliver(postfix, sink, raw, f"reports@{g}", rcpt)
        assert time.monotonic() - started < 30
        milter_log = milter.log_path.read_text()
        assert f"report refused ({reason})" in milter_log
    after = (rows(milter, "SELECT COUNT(*) FROM report_tls")[0][0],
             rows(milter, "SELECT COUNT(*) FROM report_dmarc")[0][0])
    assert after == before
    print("\n".join(ln for ln in milter.log_path.read_text().splitlines() if " report " in ln))  # docs/REPORTS.md
    deadline = time.monotonic() + 10  # message records are flushed every 0.1 s: wait for them, bounded
    while True:
        facts = [f for (f,) in rows(milter, "SELECT facts FROM messages")]
        refused = [f for f in facts if '"report_result": "refused"' in f]
        if len(refused) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert sorted(f.rsplit('"', 2)[-2] for f in refused) == ["entities", "malformed", "too_large"]


def test_no_address_or_person_ip_in_the_store(world):
    _keys, milter, _postfix, _sink = world
    dump = Path(milter.store_path).read_bytes()
    for db_file in Path(milter.store_path).parent.glob("meta.db*"):
        dump += db_file.read_bytes()
    for table in ("report_tls", "report_dmarc"):
        text = repr(rows(milter, f"SELECT * FROM {table}"))
        assert "@" not in text and "2001:db8:abcd" not in text and "203.0.113.56" not in text
    assert b"noreply-dmarc-support@" not in dump and b"sts-reporting@" not in dump
