"""Issue 29: every place a person can read is a place a secret can be. Each test puts a
clearly labelled secret in one such place and nowhere else."""

from email.message import EmailMessage
from email.headerregistry import Address

from privacy_filters.dlp import scan

from dlp_helpers import categories, luhn_complete, make_iban, message

VISA = luhn_complete("4929", 16)
IBAN = make_iban("DE", "370400440532013000")


def _html(markup: str) -> bytes:
    return message("See the web version.", html=markup)


def test_html_alt_attribute_is_read():
    report = scan(_html(f'<p>Hello</p><img src="cid:x" alt="Card number {VISA} exp 09/28">'))
    assert "payment_card" in categories(report)


def test_html_title_attribute_is_read():
    report = scan(_html(f'<p><span title="IBAN: {IBAN}">hover here</span></p>'))
    assert "iban" in categories(report)


def test_html_title_element_is_read():
    report = scan(_html(f"<html><head><title>Card number {VISA}</title></head>"
                        "<body><p>Hello</p></body></html>"))
    assert "payment_card" in categories(report)


def test_attribute_text_does_not_glue_into_visible_numbers():
    # alt text stands on its own line: digits around the tag are not joined through it
    report = scan(_html(f'<p>Card number {VISA[:8]}<img alt="x">{VISA[8:]}</p>'))
    assert "payment_card" in categories(report)


def _with_display_name(field: str, name: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.org"
    msg["To"] = "bob@example.net"
    msg["Subject"] = "hi"
    msg.replace_header(field, Address(name, "x", "example.com")) if field in msg else \
        msg.__setitem__(field, Address(name, "x", "example.com"))
    msg.set_content("Hello.")
    return msg.as_bytes()


def test_display_names_are_read():
    for field in ("From", "To", "Reply-To", "Cc"):
        report = scan(_with_display_name(field, f"IBAN {IBAN}"))
        assert "iban" in categories(report), field


def test_attached_message_display_names_are_read():
    inner = _with_display_name("From", f"IBAN {IBAN}")
    raw = message("Forwarding.", attachments=[(inner, "message", "rfc822", "fwd.eml")])
    assert "iban" in categories(scan(raw))
