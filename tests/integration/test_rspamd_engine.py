"""The spam check's rspamd path against Debian's real rspamd (HTTP /checkv2), alone and end
to end through a throwaway Postfix, and doctor's rspamd PING. rspamd asks the harness DNS
stub, which answers NXDOMAIN at once: a message is scored in well under a second, not after
rspamd's ~5 s of DNS time-outs per lookup on a host without a resolver."""

from __future__ import annotations

import os
import shutil
import smtplib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from privacy_filters.spam import SpamFilter
from privacy_milter import policy as policy_mod
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS
from privacy_milter.doctor import engine_checks
from privacy_milter.doctor.model import Setup, Status
from privacy_milter.model import Action
from privacy_milter.plugin import FilterContext
from tests.harness import smtp
from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.ports import free_port
from tests.harness.rspamd import GTUBE, RSPAMD, Rspamd
from tests.integration.test_scanners_engines import OPTED, PLAIN, check_with, inbound, mail
from tests.integration.test_spine_postfix import arrived

pytestmark = pytest.mark.engines


@pytest.fixture(scope="module")
def rspamd_dns() -> Iterator[DnsStub]:
    """What rspamd asks: NXDOMAIN at once for every name (it holds none)."""
    with DnsStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def rspamd(rspamd_dns: DnsStub) -> Iterator[Rspamd]:
    if not os.access(RSPAMD, os.X_OK):
        pytest.skip(f"{RSPAMD} is not installed (make test installs it: TEST_PKGS in the Makefile)")
    root = harness_dir("rspamd")
    try:
        with Rspamd(root, nameserver=(rspamd_dns.host, rspamd_dns.port)) as engine:
            yield engine
    finally:
        shutil.rmtree(root, ignore_errors=True)


def policy_text(url: str, extra: str = "") -> str:
    return f"""
[network]
hosted_domains = ["{OPTED}", "{PLAIN}"]
trusted_networks = ["127.0.0.1/32"]
[pipeline]
filters = ["dlp", "tls", "spam"]
[filters.spam]
backend = "rspamd"
address = "{url}"
timeout = 30
{extra}
[customers."{OPTED}"]
spam = true
"""


async def test_rspamd_rejects_its_test_pattern_and_passes_clean_mail(rspamd: Rspamd, rspamd_dns: DnsStub) -> None:
    ctx = FilterContext(policy_mod.parse(policy_text(rspamd.url)).site)
    gtube = await check_with(SpamFilter, inbound(mail(b"Buy now.\n" + GTUBE + b"\n")), ctx)
    assert gtube.action is Action.REJECT and gtube.reply is not None
    assert (gtube.reply.code, gtube.reply.xcode) == ("550", "5.7.1")
    assert ("spam", "yes") in gtube.facts and ("spam_score", "15.0") in gtube.facts
    started = time.monotonic()
    clean = await check_with(SpamFilter, inbound(mail(b"Shall we meet at noon by the fountain?\n")), ctx)
    took = time.monotonic() - started
    assert clean.action is Action.ACCEPT and ("spam", "no") in clean.facts and not clean.headers, clean
    assert took < 3.0, f"rspamd took {took:.1f}s: is it waiting for DNS?"
    assert rspamd_dns.queries, "rspamd asked no DNS of the stub: is it asking another resolver?"
    tagging = FilterContext(policy_mod.parse(policy_text(rspamd.url, "reject_score = 5000")).site)
    tagged = await check_with(SpamFilter, inbound(mail(b"Buy now.\n" + GTUBE + b"\n")), tagging)
    assert tagged.action is Action.TAG
    assert tagged.headers == (("X-Privacy-Spam", "yes, score=15.0"),)


def _engine_line(policy_text: str) -> tuple[Status, str]:
    setup = Setup(Path("policy.toml"), policy_mod.parse(policy_text), None)
    [line] = engine_checks.check(setup)
    return line.status, line.text


def test_doctor_pings_rspamd(rspamd: Rspamd) -> None:
    assert _engine_line(policy_text(rspamd.url)) == (Status.OK, f"rspamd (spam) at {rspamd.url} answers ping")
    dead = f"http://127.0.0.1:{free_port()}"
    status, text = _engine_line(policy_text(dead))
    assert status is Status.FAIL and text.startswith(f"rspamd (spam) at {dead}: Connection refused"), text


@pytest.mark.postfix
def test_rspamd_through_postfix(rspamd: Rspamd, milter_factory, postfix_factory, sink) -> None:
    milter = milter_factory(policy_text(rspamd.url))
    postfix = postfix_factory(
        relay_port=sink.port, milter=milter.spec, relay_domains=f"{OPTED} {PLAIN}", mynetworks="127.0.0.1/32",
        extra_main={"milter_content_timeout": "120",
                    **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()}})

    def send(raw: bytes, to: str) -> str:
        # 127.0.0.9: outside mynetworks and the trusted networks, so inbound mail for a hosted domain
        return smtp.send(postfix.smtpd_port, raw, "carol@far.test", (to,), source="127.0.0.9")

    with pytest.raises(smtplib.SMTPDataError) as info:
        send(mail(b"Buy now.\n" + GTUBE + b"\n"), f"bob@{OPTED}")
    assert info.value.smtp_code == 550 and b"5.7.1" in info.value.smtp_error
    queue_id = send(mail(b"Lunch at the fountain on Friday?\n"), f"bob@{OPTED}")
    delivered = arrived(sink, b"Lunch at the fountain")
    assert b"X-Privacy-Spam" not in delivered.raw
    line = milter.message_line(queue_id)
    assert "action=accept" in line and "GTUBE" not in milter.log()
