"""Decoding: charsets, transfer encodings, HTML, and bad input that must not raise."""

import base64
import io
import logging

from privacy_milter.model import Confidence
from privacy_filters.dlp import Limits, scan

from dlp_helpers import categories, luhn_complete, message

VISA = luhn_complete("4556", 16)
SECRET = "Falcon1957xyz"


def test_quoted_printable_and_latin1(scan_text):
    report = scan_text(f"Kreditkarte für Müller: {VISA}", charset="iso-8859-1",
                       cte="quoted-printable")
    assert "payment_card" in categories(report)


def test_html_only_with_entities_and_table():
    raw = (b"From: a@b\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<html><style>p{}</style><table><tr><td>Sort&nbsp;code</td><td>Account</td></tr>"
           b"<tr><td>20&#8209;00&#8209;00</td><td>12345678</td></tr></table></html>")
    assert "uk_bank_account" in categories(scan(raw))


def test_html_blocks_do_not_glue_numbers():
    raw = (b"From: a@b\r\nSubject: x\r\nContent-Type: text/html\r\n\r\n"
           b"<div>card 4556 7777</div><div>7777 7777</div>")
    assert "payment_card" not in categories(scan(raw))


def test_unknown_charset_and_nul_bytes_do_not_raise():
    raw = (b"From: a@b\r\nSubject: =?bogus?Q?hi?=\r\nContent-Type: text/plain; charset=klingon"
           b"\r\n\r\nPassword: " + SECRET.encode() + b"\x00\x00\xff\xfe\r\n")
    assert "password" in categories(scan(raw))


def test_truncated_base64_does_not_raise():
    body = base64.b64encode(f"card number {VISA}\n".encode() * 3)[:-7]
    raw = (b"From: a@b\r\nSubject: x\r\nContent-Type: text/plain\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + body)
    report = scan(raw)  # whatever was decodable is scanned; nothing raises
    assert "payment_card" in categories(report)  # the first two lines decode whole


def test_garbage_and_empty_input():
    for raw in (b"", b"\x00" * 1000, b"\xff\xfe garbage", b"Content-Type: multipart/mixed; "
                b"boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n--x"):
        report = scan(raw)
        assert report.findings == ()


def test_file_object_source():
    report = scan(io.BytesIO(message(f"card {VISA}")))
    assert "payment_card" in categories(report)


def test_oversized_message_is_cut_and_counted():
    raw = message("x" * 3_000_000 + f"\ncard {VISA}")
    report = scan(raw, Limits(max_message_bytes=1_000_000))
    assert report.unscannable >= 1


def test_large_message_is_bounded_by_part_chars():
    raw = message(("harmless text line\n" * 200_000) + f"card {VISA}")
    report = scan(raw, Limits(max_part_chars=100_000))
    assert report.unscannable >= 1 and report.findings == ()


def test_no_value_in_reprs_or_logs(caplog):
    caplog.set_level(logging.DEBUG)
    raw = message(f"card {VISA}\nPassword: {SECRET}",
                  attachments=[(b"PK\x03\x04broken", "application", "zip", "x.zip")])
    report = scan(raw)
    text = repr(report) + str(report) + caplog.text
    assert VISA not in text and SECRET not in text
    assert {f.category for f in report.findings} == {"payment_card", "password"}


def test_password_with_unscannable_attachment_is_high():
    raw = message("The password is Falcon1957",
                  attachments=[(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
                                "application", "vnd.ms-excel", "locked.xlsx")])
    report = scan(raw)
    assert report.unscannable == 1
    assert report.findings[0].confidence is Confidence.HIGH


def test_hostile_inputs_stay_fast():
    import time
    cases = [
        ("text/html", "<a" * 200_000),          # quadratic for html.parser
        ("text/html", "<!--" + "x" * 500_000),
        ("text/plain", "1 " * 200_000),          # one huge run of spaced digits
        ("text/plain", "password: " * 100_000),  # a million candidates
        ("text/plain", "Sort code 20-00-00 12345678 " * 20_000),
    ]
    for subtype, body in cases:
        raw = (f"From: a@b\r\nSubject: x\r\nContent-Type: {subtype}\r\n\r\n{body}").encode()
        start = time.perf_counter()
        scan(raw)
        assert time.perf_counter() - start < 3.0, subtype


def test_card_in_space_separated_row(scan_text):
    assert "payment_card" in categories(scan_text(f"card,exp,cvv\n{VISA} 12 2027 123"))


def test_format_flowed_soft_breaks_are_joined():
    g = " ".join(VISA[i:i + 4] for i in range(0, 16, 4))
    raw = ("From: a@b\r\nSubject: x\r\nContent-Type: text/plain; format=flowed\r\n\r\n"
           f"My card number is {g[:9]} \r\n{g[10:]}\r\n").encode()
    assert "payment_card" in categories(scan(raw))


def test_utf16_attachment_text():
    body = f"Card number {VISA}".encode("utf-16")
    raw = message("see file", attachments=[(body, "text", "plain", "card.txt")])
    # No charset label: the byte order mark says UTF-16.
    assert "payment_card" in categories(scan(raw))


# Letters that Unicode case folding matches to an ASCII one: "<\u017fcript>" (long s), "<t\u0131tle>"
# (dotless i), "<scr\u0130pt>" (dotted capital I). HTML tag names are ASCII case-insensitive, so a
# browser shows these as text; they once raised KeyError in the hidden-element lookup and the
# part went unscanned ("malformed"), so a password written inside one was never seen.
LOOKALIKE_TAGS = ("\u017fcript", "\u017ftyle", "t\u0131tle", "scr\u0131pt", "scr\u0130pt", "t\u0130tle")


def html_message(body: str) -> bytes:
    return ("From: a@shop.example\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()


def test_lookalike_hidden_tags_are_text_and_scanned():
    for name in LOOKALIKE_TAGS:
        report = scan(html_message(f"<html><body><p>Hi</p><{name}>password: {SECRET}</{name}></body></html>"))
        assert report.unscannable_reasons == (), name
        assert categories(report) == {"password"}, name


def test_lookalike_closing_tag_does_not_end_a_real_script():
    for name in ("\u017fcript", "scr\u0131pt"):
        report = scan(html_message(f"<html><script>var x = 1;</{name}>password: {SECRET}</script><p>Hi</p></html>"))
        assert report.unscannable_reasons == (), name
        assert categories(report) == set(), name  # still inside the script: never shown
    shown = scan(html_message(f"<html><SCRIPT type=x>var x;</Script ><p>password: {SECRET}</p></html>"))
    assert categories(shown) == {"password"}  # ASCII case still folds
