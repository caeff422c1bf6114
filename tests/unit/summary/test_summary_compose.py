"""The email: structure, headers, charts by cid, and no address anywhere but the envelope
headers (planted addresses in domain positions are cut to their domain)."""

from __future__ import annotations

import email
import re
from email import policy

import pytest

from privacy_milter.summary.compose import compose

from summary_helpers import NOW, empty, synthetic

SENDER = "summary@hosting.example"
RCPTS = ["postmaster@hosting.example", "ops@hosting.example"]


def parsed(report):
    raw = compose(report, SENDER, RCPTS, NOW).as_bytes()
    return raw, email.message_from_bytes(raw, policy=policy.default)


def test_structure_is_alternative_of_text_and_related_html_with_pngs():
    _, msg = parsed(synthetic())
    assert msg.get_content_type() == "multipart/alternative"
    text, related = msg.get_payload()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert [i.get_content_type() for i in images] == ["image/png", "image/png"]
    cids = [i["Content-ID"].strip("<>") for i in images]
    body = html.get_content()
    for cid in cids:
        assert f'src="cid:{cid}"' in body
    assert all(i.get_content().startswith(b"\x89PNG") for i in images)
    assert "12,345" in text.get_content() and "12,345" in body


def test_headers():
    _, msg = parsed(synthetic())
    assert msg["Subject"] == ("Mail privacy summary, week 48 2026: ACTION NEEDED, 2 flagged messages sent "
                              "in clear; 12,345 messages, 99.2% encrypted")
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["From"] == SENDER and msg["To"] == ", ".join(RCPTS)
    assert msg["Date"].datetime == NOW
    assert re.fullmatch(r"<[^@<>\s]+@hosting\.example>", msg["Message-ID"])


def test_no_address_or_local_part_anywhere_in_the_bytes():
    raw, msg = parsed(synthetic())
    assert b"alice.secret" not in raw and b"bob@" not in raw
    allowed = {SENDER, *RCPTS, msg["Message-ID"].strip("<>"),
               "encrypted-share.png@summary.invalid", "outbound-levels.png@summary.invalid"}
    decoded = b"\n".join(p.get_payload(decode=True) or b"" for p in msg.walk()
                         if not p.is_multipart() and p.get_content_maintype() == "text")
    head = raw.split(b"\r\n\r\n", 1)[0] + b"".join(
        re.findall(rb"\r\nContent-ID: [^\r]*", raw))
    for blob in (decoded, head):
        for m in re.finditer(rb"[^\s<>\"=:,]*@[^\s<>\"=:,]*", blob):
            assert m.group().decode() in allowed, m.group()
    assert b"@" not in decoded.replace(b"@summary.invalid", b"")


def test_an_empty_week_is_a_clean_text_and_html_mail_without_images():
    _, msg = parsed(empty())
    assert msg["Subject"].endswith(": no mail")
    text, html = msg.get_payload()          # no chart: the HTML part stands alone
    assert "No mail this week." in text.get_content()
    assert html.get_content_type() == "text/html" and "No mail this week." in html.get_content()


def test_the_customer_variant_is_addressed_to_its_own_recipients():
    _, msg = parsed(synthetic().for_customer("clinic.example"))
    assert msg["Subject"].startswith("Mail privacy summary for clinic.example, week 48 2026")
    assert "shop.example" not in msg.as_string()


def test_compose_refuses_no_recipient_and_a_naive_date():
    with pytest.raises(ValueError):
        compose(synthetic(), SENDER, [], NOW)
    with pytest.raises(ValueError):
        compose(synthetic(), SENDER, RCPTS, NOW.replace(tzinfo=None))
