"""doctor's summary-SMTP line against a throwaway Postfix offering STARTTLS, with each [smtp]
tls setting the daemon would use: a certificate from a CA the admin names verifies; the
same certificate without that CA (what a stock self-signed one is to a verifying client)
fails the line before the weekly summary would; opportunistic takes it unverified."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.doctor import network_checks
from privacy_milter.doctor.model import Setup, Status
from tests.harness.certs import Certs
from tests.harness.ports import free_port

pytestmark = pytest.mark.postfix


def smtp_line(port: int, tls: str, ca_file: str = "") -> tuple[Status, str]:
    ca = f'ca_file = "{ca_file}"\n' if ca_file else ""
    policy = policy_mod.parse(f"""
[store]
host_name = "mx.doctor.test"
[summary]
recipients = ["admin@doctor.test"]
[smtp]
host = "127.0.0.1"
port = {port}
tls = "{tls}"
{ca}""")
    [line] = network_checks.smtp(Setup(Path("policy.toml"), policy, None))
    return line.status, line.text


def test_summary_smtp_with_each_tls_setting(postfix_factory, certs: Certs) -> None:
    pf = postfix_factory(relay_port=free_port(), tls_cert=certs.cert_file, tls_key=certs.key_file)
    where = f"127.0.0.1:{pf.smtpd_port}"
    status, text = smtp_line(pf.smtpd_port, "verify", str(certs.ca_file))
    assert status is Status.OK and text.startswith(f"{where} answers EHLO; STARTTLS TLSv1."), text
    assert text.endswith("certificate verified (tls = verify)")

    status, text = smtp_line(pf.smtpd_port, "verify")  # the system's CAs do not know the harness CA
    assert status is Status.FAIL, text
    assert text.startswith(f"[smtp] {where}: its certificate could not be verified "), text
    assert text.endswith(': the weekly summary cannot be sent')

    status, text = smtp_line(pf.smtpd_port, "opportunistic")
    assert status is Status.OK and text.endswith("certificate not verified (tls = opportunistic)"), text

    status, text = smtp_line(pf.smtpd_port, "none")
    assert (status, text) == (Status.OK, f"{where} answers EHLO; no TLS (tls = none)")
