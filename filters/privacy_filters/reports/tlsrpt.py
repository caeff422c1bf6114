"""TLS-RPT aggregate reports (RFC 8460 §4): the JSON a sender mails daily about its TLS
sessions to one of our domains, reduced to what the summary shows.

Kept: organisation, report id, date range, and per policy its type and domain, the
successful and failed session counts, and the failure result types with their counts.
Dropped: contact-info (an address), sending-mta-ip (the reporter's servers), the
receiving MX and IP (ours), the policy strings, additional-information URIs.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import ReportRefused

MAX_POLICIES = 1000
MAX_FAILURE_DETAILS = 10000
MAX_COUNT = 2 ** 53
POLICY_TYPES = ("tlsa", "sts", "no-policy-found")
_WORD = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_ORG = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


@dataclass(frozen=True)
class PolicyResult:
    policy_type: str        # tlsa, sts, no-policy-found
    policy_domain: str
    successful: int
    failed: int
    failures: tuple[tuple[str, int], ...]  # (result-type, failed-session-count), summed per type


@dataclass(frozen=True)
class TlsRptReport:
    organization: str
    report_id: str
    begin: float  # epoch seconds
    end: float
    policies: tuple[PolicyResult, ...]


def _bad(text: str) -> ReportRefused:
    return ReportRefused("malformed", f"TLS-RPT report: {text}")


def _field(obj: Any, key: str, kind: type) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise _bad(f'"{key}" missing')
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _bad(f'"{key}" has the wrong type')
    return value


def _count(obj: Any, key: str) -> int:
    value = _field(obj, key, int)
    if not 0 <= value < MAX_COUNT:
        raise _bad(f'"{key}" out of range')
    return int(value)


def _time(text: str, key: str) -> float:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00")).timestamp()
    except ValueError:
        raise _bad(f'"{key}" is not an RFC 3339 date-time') from None


def _text(value: str, key: str, pattern: re.Pattern[str]) -> str:
    if not pattern.fullmatch(value):
        raise _bad(f'"{key}" is not a plain short text')
    return value


def _policy(item: Any) -> PolicyResult:
    policy = _field(item, "policy", dict)
    summary = _field(item, "summary", dict)
    ptype = _field(policy, "policy-type", str)
    if ptype not in POLICY_TYPES:
        raise _bad('"policy-type" is not tlsa, sts or no-policy-found')
    domain = _field(policy, "policy-domain", str).lower().rstrip(".")
    if not re.fullmatch(r"[a-z0-9.-]{1,253}", domain):
        raise _bad('"policy-domain" is not a domain name')
    details = item.get("failure-details", []) if isinstance(item, dict) else []
    if not isinstance(details, list) or len(details) > MAX_FAILURE_DETAILS:
        raise ReportRefused("too_many", f"TLS-RPT report: more than {MAX_FAILURE_DETAILS} failure details")
    failures: dict[str, int] = {}
    for detail in details:
        kind = _field(detail, "result-type", str)
        kind = kind if _WORD.fullmatch(kind) else "other"
        failures[kind] = failures.get(kind, 0) + _count(detail, "failed-session-count")
    return PolicyResult(ptype, domain, _count(summary, "total-successful-session-count"),
                        _count(summary, "total-failure-session-count"), tuple(sorted(failures.items())))


def parse(data: bytes, limit: int) -> TlsRptReport:
    """Parse a report's JSON (already decompressed). ReportRefused names what is wrong."""
    if len(data) > limit:
        raise ReportRefused("too_large", f"TLS-RPT report of {len(data)} bytes, over the limit of {limit}")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad(f"not JSON ({type(exc).__name__})") from None
    except RecursionError:  # "[[[[...": json nests by recursion
        raise _bad("nested too deeply") from None
    org = _text(_field(doc, "organization-name", str), "organization-name", _ORG)
    report_id = _text(_field(doc, "report-id", str), "report-id", _ORG)
    span = _field(doc, "date-range", dict)
    begin = _time(_field(span, "start-datetime", str), "start-datetime")
    end = _time(_field(span, "end-datetime", str), "end-datetime")
    policies = _field(doc, "policies", list)
    if len(policies) > MAX_POLICIES:
        raise ReportRefused("too_many", f"TLS-RPT report: more than {MAX_POLICIES} policies")
    return TlsRptReport(org, report_id, begin, end, tuple(_policy(p) for p in policies))
