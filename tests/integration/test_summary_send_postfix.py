"""`privacy-milter summary --send` through a Postfix with Debian's stock TLS set-up.

The real-host condition (issue 23, item 3): the local Postfix offers STARTTLS with a
self-signed certificate made like Debian's snakeoil one (not from a CA the client could
trust). The summary must reach the destination behind that Postfix with [smtp] left at its
defaults (opportunistic on loopback), say which TLS it used, and with tls = "verify" fail
with a message that says what to do.
"""

from __future__ import annotations

import subprocess
import sys
from email import message_from_bytes, policy as email_policy
from pathlib import Path

import pytest

from tests.harness.snakeoil import make_snakeoil

ADMIN = "postmaster@hosting.example"
FROM = "privacy-milter@mx1.shop.example"
CLI_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/postfix").exists(), reason="needs Postfix")


def _policy(tmp_path: Path, smtp: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(f'[store]\npath = "{tmp_path}/metadata.db"\nkey_file = "{tmp_path}/address.key"\n'
                    f'host_name = "mx1.shop.example"\n'
                    f'[tls_policy]\nenabled = false\n'
                    f'[summary]\nrecipients = ["{ADMIN}"]\nfrom = "{FROM}"\n{smtp}')
    return path


def _send(policy: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "privacy_milter.cli", "summary", "--policy", str(policy), "--send"],
                          capture_output=True, text=True, timeout=CLI_TIMEOUT, stdin=subprocess.DEVNULL)


@pytest.fixture
def snakeoil_postfix(postfix_factory, sink, tmp_path):
    oil = make_snakeoil(tmp_path / "ssl", "mx1.shop.example")
    pf = postfix_factory(relay_port=sink.port, tls_cert=oil.cert_file, tls_key=oil.key_file,
                         myhostname="mx1.shop.example", relay_domains="hosting.example")
    return pf


def test_the_summary_goes_through_a_postfix_with_a_self_signed_certificate(snakeoil_postfix, sink, tmp_path):
    # the old keys ([summary] smtp_host/smtp_port) still work; tls is left to its default
    done = _send(_policy(tmp_path, f'smtp_host = "127.0.0.1"\nsmtp_port = {snakeoil_postfix.smtpd_port}\n'))
    assert done.returncode == 0, done.stderr
    (got,) = sink.wait_for(1, 30)
    assert got.rcpt_tos == (ADMIN,) and got.mail_from == FROM
    parsed = message_from_bytes(got.raw, policy=email_policy.default)
    assert parsed["Subject"].startswith("Mail privacy summary, week ")
    assert "certificate not verified (tls = opportunistic)" in done.stdout
    assert "STARTTLS TLSv1." in done.stdout
    # Postfix saw it arrive over TLS (its own log; smtpd_tls_received_header says so too)
    snakeoil_postfix.wait_for_log(r"Anonymous TLS connection established from localhost\[127\.0\.0\.1\]|"
                                  r"TLS connection established from localhost\[127\.0\.0\.1\]")
    assert b"(using TLSv1." in got.raw


def test_verify_fails_clearly_against_the_self_signed_certificate(snakeoil_postfix, sink, tmp_path):
    done = _send(_policy(tmp_path, f'[smtp]\nhost = "127.0.0.1"\nport = {snakeoil_postfix.smtpd_port}\n'
                                   'tls = "verify"\n'))
    assert done.returncode == 69
    err = done.stderr.strip()
    assert "certificate could not be verified" in err and "self-signed" in err
    assert 'set [smtp] ca_file' in err and 'tls = "opportunistic"' in err
    assert "Traceback" not in err and sink.count() == 0
