"""Helpers for building test messages; every secret in these tests is synthetic."""

from __future__ import annotations

from email.message import EmailMessage

from privacy_filters.dlp import Report, scan


def luhn_complete(prefix: str, length: int) -> str:
    """A number of the given length starting with prefix, with a valid Luhn check digit."""
    body = (prefix + "7" * length)[:length - 1]
    for check in "0123456789":
        candidate = body + check
        total = 0
        for i, ch in enumerate(reversed(candidate)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return candidate
    raise AssertionError("unreachable")


def make_iban(country: str, bban: str) -> str:
    """An IBAN with correct check digits for the BBAN (ISO 13616)."""
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - number % 97:02d}{bban}"


def message(body: str = "Hello", subject: str = "Hi", html: str | None = None,
            attachments: list[tuple[bytes, str, str, str]] = (),  # type: ignore[assignment]
            charset: str = "utf-8", cte: str | None = None) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.org"
    msg["To"] = "bob@example.net"
    msg["Subject"] = subject
    msg.set_content(body, charset=charset, cte=cte) if cte else msg.set_content(body,
                                                                                 charset=charset)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for data, maintype, subtype, filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def categories(report: Report) -> set[str]:
    return {f.category for f in report.findings}


def scan_text(body: str, **kw: object) -> Report:
    return scan(message(body, **kw))  # type: ignore[arg-type]
