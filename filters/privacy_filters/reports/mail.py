"""Finding the report in a report mail, and reading it, bounded end to end.

TLS-RPT (RFC 8460 §5.3): a multipart/report whose report part is application/tlsrpt+gzip
or application/tlsrpt+json. DMARC (RFC 7489 §7.2.1.1): the report attached as zip, gzip
or plain XML; reporters label it many ways (application/zip, application/gzip,
application/x-gzip, text/xml, application/octet-stream with a .zip/.gz/.xml name), so
the label only picks the part and the first bytes (unpack.sniff) decide how to open it.
"""

from __future__ import annotations

import email.parser
import email.policy
from email.message import EmailMessage, Message
from typing import Literal

from . import ReportRefused, dmarc, tlsrpt, unpack

Kind = Literal["tlsrpt", "dmarc"]
MAX_PARTS = 50
TLSRPT_TYPES = ("application/tlsrpt+gzip", "application/tlsrpt+json")
DMARC_TYPES = ("application/zip", "application/x-zip-compressed", "application/x-zip", "application/gzip",
               "application/x-gzip", "text/xml", "application/xml")
DMARC_NAMES = (".zip", ".gz", ".xml", ".gzip")


def _wanted(part: Message, kind: Kind) -> bool:
    ctype = part.get_content_type()
    if kind == "tlsrpt":
        return ctype in TLSRPT_TYPES
    if ctype in DMARC_TYPES:
        return True
    name = (part.get_filename() or "").lower()
    return ctype == "application/octet-stream" and name.endswith(DMARC_NAMES)


def attachment(raw: bytes, kind: Kind) -> bytes:
    """The report part's decoded bytes. ReportRefused when there is none or too many parts."""
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(raw)
    parts = 0
    for part in msg.walk():
        parts += 1
        if parts > MAX_PARTS:
            raise ReportRefused("too_many", f"more than {MAX_PARTS} MIME parts")
        if part.is_multipart() or not _wanted(part, kind):
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            return payload
    wanted = ", ".join(TLSRPT_TYPES) if kind == "tlsrpt" else "zip, gzip or XML"
    raise ReportRefused("not_a_report", f"no {kind} report part ({wanted})")


def read(raw: bytes, kind: Kind, limit: int) -> tlsrpt.TlsRptReport | dmarc.DmarcReport:
    """The parsed report of a report mail; every step bounded by `limit` bytes."""
    data = unpack.expand(attachment(raw, kind), limit)
    if kind == "tlsrpt":
        return tlsrpt.parse(data, limit)
    return dmarc.parse(data, limit)


def from_domain(raw: bytes) -> str:
    """The From header's domain (lower case), "" when there is none: what DKIM must align with."""
    header_end = raw.find(b"\r\n\r\n")
    if header_end < 0:
        header_end = raw.find(b"\n\n")
    head = raw[: header_end if header_end >= 0 else min(len(raw), 65536)]
    msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(head, headersonly=True)
    assert isinstance(msg, EmailMessage)
    try:
        header = msg["From"]
        addresses = list(header.addresses) if header is not None else []
    except (IndexError, AttributeError, ValueError):
        return ""
    return str(addresses[0].domain).lower().rstrip(".") if len(addresses) == 1 else ""
