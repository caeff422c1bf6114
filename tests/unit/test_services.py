"""The SMTP sender against a real aiosmtpd server on loopback."""

from email.message import EmailMessage

import pytest

from privacy_milter.services import SmtpSender, SmtpSendError
from tests.harness.ports import free_port
from tests.harness.sink import Sink


def _mail():
    m = EmailMessage()
    m["From"] = "privacy-milter@mx.example"
    m["To"] = "admins@hosting.example"
    m["Subject"] = "Mail privacy summary"
    m.set_content("All well.\n")
    return m


async def test_sender_delivers_the_exact_message():
    with Sink() as sink:
        await SmtpSender("127.0.0.1", sink.port, timeout=5).send(
            _mail(), "privacy-milter@mx.example", ["admins@hosting.example"])
        got = sink.wait_for(1, 5)[0]
    assert got.mail_from == "privacy-milter@mx.example" and got.rcpt_tos == ("admins@hosting.example",)
    assert b"Subject: Mail privacy summary" in got.raw and b"All well." in got.raw


async def test_sender_says_why_without_addresses_when_nobody_listens():
    port = free_port()
    with pytest.raises(SmtpSendError) as err:
        await SmtpSender("127.0.0.1", port, timeout=2).send(_mail(), "a@mx.example", ["b@hosting.example"])
    assert f"127.0.0.1:{port}" in str(err.value) and "@" not in str(err.value)
