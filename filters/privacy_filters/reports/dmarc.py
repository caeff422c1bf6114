"""DMARC aggregate reports (RFC 7489 §7.2, Appendix C; the DMARCbis namespace too), read
with defusedxml: a DTD, entity declaration or external reference is refused outright, so
no entity expansion ("billion laughs") and no outside fetch can happen. The XML is size
checked before it is parsed.

Kept per record: the sending source's IP (a mail server, counted), the message count,
header-from domain, the DMARC-evaluated DKIM and SPF outcome (pass means aligned pass)
and the disposition. Dropped: the reporter's contact email, extra contact info, the
DKIM selectors, envelope addresses.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import defusedxml
import defusedxml.ElementTree as SafeET

from . import ReportRefused

MAX_RECORDS = 100_000
MAX_COUNT = 2 ** 53
_ORG = re.compile(r"[^\x00-\x1f\x7f]{1,200}")
_DOMAIN = re.compile(r"[A-Za-z0-9.-]{1,253}")
DISPOSITIONS = ("none", "quarantine", "reject")
RESULTS = ("pass", "fail")


@dataclass(frozen=True)
class DmarcRow:
    source_ip: str
    count: int
    header_from: str
    dkim: str         # policy_evaluated: pass (aligned DKIM pass) or fail
    spf: str          # policy_evaluated: pass (aligned SPF pass) or fail
    disposition: str  # none, quarantine, reject


@dataclass(frozen=True)
class DmarcReport:
    organization: str
    report_id: str
    begin: float
    end: float
    policy_domain: str
    policy: str  # p= none, quarantine, reject
    rows: tuple[DmarcRow, ...]


def _bad(text: str) -> ReportRefused:
    return ReportRefused("malformed", f"DMARC report: {text}")


def _strip_ns(root: ET.Element) -> None:
    for el in root.iter():
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = el.tag.split("}", 1)[1]


def _text(parent: ET.Element, path: str, pattern: re.Pattern[str] | None = None, default: str | None = None) -> str:
    el = parent.find(path)
    value = (el.text or "").strip() if el is not None else ""
    if not value:
        if default is not None:
            return default
        raise _bad(f"<{path}> missing")
    if pattern is not None and not pattern.fullmatch(value):
        raise _bad(f"<{path}> is not a plain short value")
    return value


def _int(parent: ET.Element, path: str) -> int:
    text = _text(parent, path)
    if not text.isdigit() or int(text) >= MAX_COUNT:
        raise _bad(f"<{path}> is not a count")
    return int(text)


def _choice(parent: ET.Element, path: str, allowed: tuple[str, ...], default: str) -> str:
    value = _text(parent, path, default=default).lower()
    return value if value in allowed else default


def _row(record: ET.Element) -> DmarcRow:
    ip_text = _text(record, "row/source_ip")
    try:
        ip = str(ipaddress.ip_address(ip_text))
    except ValueError:
        raise _bad("<row/source_ip> is not an IP address") from None
    return DmarcRow(
        source_ip=ip, count=_int(record, "row/count"),
        header_from=_text(record, "identifiers/header_from", _DOMAIN).lower() if record.find(
            "identifiers/header_from") is not None else "",
        dkim=_choice(record, "row/policy_evaluated/dkim", RESULTS, "fail"),
        spf=_choice(record, "row/policy_evaluated/spf", RESULTS, "fail"),
        disposition=_choice(record, "row/policy_evaluated/disposition", DISPOSITIONS, "none"))


def parse(data: bytes, limit: int) -> DmarcReport:
    """Parse an aggregate report's XML (already decompressed)."""
    if len(data) > limit:
        raise ReportRefused("too_large", f"DMARC report of {len(data)} bytes, over the limit of {limit}")
    try:
        root = SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException as exc:
        raise ReportRefused("entities", f"DMARC report: refused {type(exc).__name__} (DTDs and entities "
                                        "are never expanded)") from None
    except ET.ParseError as exc:
        raise _bad(f"not well-formed XML ({str(exc)[:80]})") from None
    _strip_ns(root)
    if root.tag != "feedback":
        raise ReportRefused("not_a_report", f"DMARC report: root element <{root.tag[:40]}>, not <feedback>")
    meta = root.find("report_metadata")
    published = root.find("policy_published")
    if meta is None or published is None:
        raise _bad("<report_metadata> or <policy_published> missing")
    records = root.findall("record")
    if len(records) > MAX_RECORDS:
        raise ReportRefused("too_many", f"DMARC report: more than {MAX_RECORDS} records")
    return DmarcReport(
        organization=_text(meta, "org_name", _ORG), report_id=_text(meta, "report_id", _ORG),
        begin=float(_int(meta, "date_range/begin")), end=float(_int(meta, "date_range/end")),
        policy_domain=_text(published, "domain", _DOMAIN).lower().rstrip("."),
        policy=_choice(published, "p", DISPOSITIONS, "none"),
        rows=tuple(_row(r) for r in records))
