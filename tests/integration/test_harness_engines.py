"""The real engines answer: clamd finds EICAR (and nothing in clean data), spamd flags GTUBE."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import pytest

from tests.harness.engines import EICAR, GTUBE

pytestmark = pytest.mark.engines


def test_clamd_finds_eicar_over_tcp_and_unix(clamd):
    assert clamd.ping() and clamd.ping(unix=True)
    assert clamd.instream(b"just some clean bytes\n" * 1000) == "stream: OK"
    assert clamd.instream(EICAR) == "stream: Eicar-Test-Signature.UNOFFICIAL FOUND"
    assert "Eicar-Test-Signature" in clamd.instream(EICAR, unix=True)
    assert oct(clamd.socket_path.stat().st_mode)[-3:] == "666"


def _mail(body: bytes) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Alice <alice@shop.example>", "bob@far.example", "Lunch on Friday"
    m["Date"], m["Message-ID"] = formatdate(localtime=False), make_msgid(domain="shop.example")
    m.set_content(body.decode())
    return m.as_bytes()


def test_spamd_flags_gtube(spamd):
    assert spamd.ping()
    is_spam, score, threshold = spamd.check(_mail(b"Buy now.\n" + GTUBE + b"\n"))
    assert is_spam and score >= 900 and threshold == 5.0
    is_spam, score, _ = spamd.check(_mail(b"Shall we meet at noon by the fountain?\n"))
    assert score < 100
