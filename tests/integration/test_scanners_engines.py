"""The virus and spam checks against the real engines (harness clamd and spamd), alone and
end to end: the real daemon attached to a throwaway Postfix, mail received by a sink."""

from __future__ import annotations

import base64
import shutil
import smtplib
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest

from privacy_filters.spam import SpamFilter
from privacy_filters.virus import ScannerError, VirusFilter
from privacy_milter import policy as policy_mod
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS
from privacy_milter.model import Action, Direction, DirectionDecision, Message, Recipient, Session
from privacy_milter.plugin import FilterContext
from tests.harness import smtp
from tests.harness.engines import EICAR, GTUBE, Clamd
from tests.harness.fixtures import harness_dir
from tests.harness.sink import arrived

pytestmark = pytest.mark.engines

OPTED, PLAIN = "opted.test", "plain.test"


def check_with(cls, message, ctx, **kwargs):
    """Build the filter from the context's policy, as the registry does, and run its check."""
    return cls(ctx.site.settings(cls.name), **kwargs).check(message, ctx)


def mail(body: bytes, to: str = f"bob@{OPTED}", sender: str = "carol@far.test",
         attachment: bytes | None = None) -> bytes:
    """Full headers (Date, Message-ID): without them spamd scores clean mail about 5."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, "Lunch on Friday"
    m["Date"], m["Message-ID"] = formatdate(localtime=False), make_msgid(domain="far.test")
    m.set_content(body.decode())
    if attachment is not None:  # the harness signature is the hash of the whole (decoded) file
        m.add_attachment(attachment, maintype="application", subtype="octet-stream", filename="invoice.com")
    return m.as_bytes()


def policy_text(clamd_address: str, spamd_port: int, extra: str = "") -> str:
    return f"""
[network]
hosted_domains = ["{OPTED}", "{PLAIN}"]
trusted_networks = ["127.0.0.1/32"]
[pipeline]
filters = ["dlp", "tls", "virus", "spam"]
[filters.virus]
address = "{clamd_address}"
[filters.spam]
address = "inet:127.0.0.1:{spamd_port}"
timeout = 60
{extra}
[customers."{OPTED}"]
spam = true
virus = true
"""


def inbound(raw: bytes, to: str = f"bob@{OPTED}") -> Message:
    m = Message.from_bytes(raw, Session("c", client_addr="192.0.2.9"), "<carol@far.test>", [Recipient(to)])
    m.direction = DirectionDecision(Direction.INBOUND, "hosted-recipient")
    return m


# --- the checks alone -------------------------------------------------------------------------------

@pytest.mark.parametrize("unix", [True, False])
async def test_clamd_finds_eicar_and_passes_clean_mail(clamd, spamd, unix):
    address = f"unix:{clamd.socket_path}" if unix else f"inet:127.0.0.1:{clamd.port}"
    ctx = FilterContext(policy_mod.parse(policy_text(address, spamd.port)).site)
    found = await check_with(VirusFilter, inbound(mail(b"Here it is.\n", attachment=EICAR)), ctx)
    assert found.action is Action.REJECT and found.reply is not None
    assert (found.reply.code, found.reply.xcode) == ("554", "5.7.1")
    assert found.reply.text == "Virus found (Eicar-Test-Signature.UNOFFICIAL)"
    assert found.facts == (("virus", "Eicar-Test-Signature.UNOFFICIAL"),)
    clean = await check_with(VirusFilter, inbound(mail(b"Shall we meet at noon?\n" * 50_000)), ctx)
    assert (clean.action, clean.facts) == (Action.ACCEPT, (("virus", "clean"),))


async def test_clamd_size_limit_is_an_error():
    root = harness_dir("clamd-small")
    try:
        with Clamd(root, stream_max_length="1M") as small:
            ctx = FilterContext(policy_mod.parse(policy_text(f"unix:{small.socket_path}", 1)).site)
            with pytest.raises(ScannerError, match="size limit"):
                await check_with(VirusFilter, inbound(mail(b"many lines of text\n" * 150_000)), ctx)
    finally:
        shutil.rmtree(root, ignore_errors=True)


async def test_spamd_scores_gtube_and_clean_mail(clamd, spamd):
    ctx = FilterContext(policy_mod.parse(policy_text(f"unix:{clamd.socket_path}", spamd.port)).site)
    gtube = await check_with(SpamFilter, inbound(mail(b"Buy now.\n" + GTUBE + b"\n")), ctx)
    assert gtube.action is Action.REJECT and gtube.reply is not None and gtube.reply.code == "550"
    assert ("spam", "yes") in gtube.facts
    clean = await check_with(SpamFilter, inbound(mail(b"Shall we meet at noon by the fountain?\n")), ctx)
    assert clean.action is Action.ACCEPT and ("spam", "no") in clean.facts and not clean.headers
    tagging = FilterContext(policy_mod.parse(policy_text(f"unix:{clamd.socket_path}", spamd.port,
                                                   "reject_score = 5000")).site)
    tagged = await check_with(SpamFilter, inbound(mail(b"Buy now.\n" + GTUBE + b"\n")), tagging)
    assert tagged.action is Action.TAG
    assert tagged.headers[0][0] == "X-Privacy-Spam" and tagged.headers[0][1].startswith("yes, score=1")


async def test_not_opted_in_is_not_sent_to_the_engines(clamd, spamd):
    ctx = FilterContext(policy_mod.parse(policy_text("inet:127.0.0.1:1", 1)).site)  # nothing listens there
    m = inbound(mail(EICAR + b"\n", to=f"bob@{PLAIN}"), to=f"bob@{PLAIN}")
    assert (await check_with(VirusFilter, m, ctx)).facts == (("virus", "not-opted-in"),)
    assert (await check_with(SpamFilter, m, ctx)).facts == (("spam", "not-opted-in"),)


# --- end to end through Postfix ----------------------------------------------------------------------

@pytest.mark.postfix
def test_through_postfix(clamd, spamd, milter_factory, postfix_factory, sink):
    milter = milter_factory(policy_text(f"unix:{clamd.socket_path}", spamd.port, "reject_score = 5000"))
    postfix = postfix_factory(
        relay_port=sink.port, milter=milter.spec, relay_domains=f"{OPTED} {PLAIN}", mynetworks="127.0.0.1/32",
        extra_main={"milter_content_timeout": "120",
                    **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()}})

    def send(raw: bytes, to: str) -> str:
        # 127.0.0.9: outside mynetworks and the trusted networks, so inbound mail for a hosted domain
        return smtp.send(postfix.smtpd_port, raw, "carol@far.test", (to,), source="127.0.0.9")

    with pytest.raises(smtplib.SMTPDataError) as info:
        send(mail(b"Invoice attached\n", attachment=EICAR), f"bob@{OPTED}")
    assert info.value.smtp_code == 554
    assert b"5.7.1 Virus found (Eicar-Test-Signature" in info.value.smtp_error

    send(mail(b"Buy now.\n" + GTUBE + b"\n"), f"bob@{OPTED}")
    tagged = arrived(sink, b"GTUBE-STANDARD")
    assert b"X-Privacy-Spam: yes, score=1" in tagged.raw

    queue_id = send(mail(b"Not for the scanners\n", to=f"dan@{PLAIN}", attachment=EICAR), f"dan@{PLAIN}")
    delivered = arrived(sink, b"Not for the scanners")
    assert base64.b64encode(EICAR)[:40] in delivered.raw and b"X-Privacy-Spam" not in delivered.raw
    assert b"X-Privacy-Virus" not in delivered.raw
    line = milter.message_line(queue_id)
    assert "EICAR" not in line and "Not for the scanners" not in line
    for text in (milter.log(), postfix.maillog()):
        assert EICAR.decode() not in text and "GTUBE-STANDARD" not in text
    assert milter.alive()
