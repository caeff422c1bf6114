"""The summary as an email: multipart/alternative of text/plain and multipart/related
(the HTML and its PNG charts as `cid:` parts), marked as machine-generated.

    compose(report, sender, recipients, now) -> EmailMessage

A report with `scope` set (WeeklyReport.for_customer, or the store's per-customer queries)
is the per-customer variant: its subject names the domain, and it omits the operator's
sections. The caller sends it (the lead: aiosmtplib or smtplib to the configured host).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from .model import WeeklyReport
from .render import CID_DOMAIN, Rendered, render


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def compose(report: WeeklyReport, sender: str, recipients: Sequence[str], now: datetime,
            rendered: Rendered | None = None) -> EmailMessage:
    """`now` must be aware (it becomes the Date header). Raises ValueError on no recipient."""
    if not recipients:
        raise ValueError("the summary has no recipient")
    if now.tzinfo is None:
        raise ValueError("compose needs an aware datetime for the Date header")
    out = rendered or render(report)
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = out.subject
    msg["From"] = Address(addr_spec=sender) if "<" not in sender else sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid("summary", domain=_domain(sender))
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"       # Outlook: no out-of-office replies
    msg.set_content(out.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(out.html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = msg.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for chart in out.images:
        html_part.add_related(chart.png, "image", "png", cid=f"<{chart.name}@{CID_DOMAIN}>",
                              filename=chart.name, disposition="inline")
    return msg
