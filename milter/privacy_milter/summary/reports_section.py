"""The summary's "How others delivered to us" (TLS-RPT) and "How our signatures fared"
(DMARC) sections, per hosted domain: read from report_tls / report_dmarc (migration 6)
for the reports received in the week, authenticated reporters only; the unauthenticated
ones are named apart (admins' summary only), never added in. A customer's summary
(`scope`) shows its own domain's lines only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from .model import WeeklyReport
from .reports_model import DmarcLine, ReportsFigures, TlsRptLine
from .sections import Section, Table, label, num, pct

MAX_UNSIGNED = 20  # sources sending as our domains without our signature: the list to act on
# What an admin must act on (RFC 8460 §4.3); the other result types are shown too.
ACT_ON = ("certificate-expired", "certificate-host-mismatch", "certificate-not-trusted", "sts-policy-fetch-error",
          "sts-policy-invalid", "sts-webpki-invalid", "starttls-not-supported", "validation-failure")


class _Fetch(Protocol):
    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]: ...


def _where(start: float, end: float, scope: str | None, authenticated: int = 1) -> tuple[str, tuple[Any, ...]]:
    sql = "WHERE time >= ? AND time < ? AND authenticated = ?"
    params: tuple[Any, ...] = (start, end, authenticated)
    if scope is not None:
        sql += " AND policy_domain = ?"
        params += (scope,)
    return sql, params


async def read_figures(q: _Fetch, start: float, end: float, scope: str | None) -> ReportsFigures:
    where, params = _where(start, end, scope)
    tls = await q.fetch("SELECT policy_domain, reporter, SUM(successful), SUM(failed) FROM report_tls "
                        f"{where} GROUP BY policy_domain, reporter ORDER BY policy_domain, reporter", params)
    failures: dict[tuple[str, str], int] = {}
    for domain, text in await q.fetch(f"SELECT policy_domain, failures FROM report_tls {where}", params):
        for item in filter(None, str(text).split(",")):
            kind, _, n = item.rpartition(":")
            failures[(domain, kind)] = failures.get((domain, kind), 0) + int(n)
    dm = await q.fetch("SELECT policy_domain, reporter, SUM(count), SUM(CASE WHEN dkim = 'pass' THEN count "
                       f"ELSE 0 END) FROM report_dmarc {where} GROUP BY policy_domain, reporter "
                       "ORDER BY policy_domain, reporter", params)
    unsigned = await q.fetch(f"SELECT policy_domain, source_ip, SUM(count) FROM report_dmarc {where} "
                             "AND dkim <> 'pass' GROUP BY policy_domain, source_ip "
                             f"ORDER BY SUM(count) DESC, policy_domain, source_ip LIMIT {MAX_UNSIGNED}", params)
    apart: list[tuple[str, str, int]] = []
    if scope is None:
        w0, p0 = _where(start, end, None, 0)
        for kind, table in (("TLS-RPT", "report_tls"), ("DMARC", "report_dmarc")):
            rows = await q.fetch(f"SELECT reporter, COUNT(DISTINCT report_id) FROM {table} {w0} "
                                 "GROUP BY reporter ORDER BY reporter", p0)
            apart += [(kind, str(r), int(n)) for r, n in rows]
    return ReportsFigures(
        tlsrpt=tuple(TlsRptLine(d, r, int(s), int(f)) for d, r, s, f in tls),
        tls_failures=tuple(sorted(((d, k, n) for (d, k), n in failures.items()), key=lambda x: (x[0], -x[2], x[1]))),
        dmarc=tuple(DmarcLine(d, r, int(n), int(a)) for d, r, n, a in dm),
        unsigned=tuple((d, ip, int(n)) for d, ip, n in unsigned),
        unauthenticated=tuple(apart))


def sections(f: ReportsFigures, scope: str | None) -> list[Section]:
    if f.empty:
        return []
    out = []
    if f.tlsrpt or scope is None:
        out.append(Section(
            "tlsrpt", "How others delivered to us (TLS-RPT)",
            "What sending services reported about their TLS sessions to our MX, per domain and reporter.",
            (Table(("domain", "reporter", "sessions ok", "failed"),
                   tuple((label(x.domain), label(x.reporter), num(x.successful), num(x.failed)) for x in f.tlsrpt),
                   (False, False, True, True), "Sessions by reporter"),
             Table(("domain", "failure", "sessions"),
                   tuple((label(d), label(k) + (" (act on it)" if k in ACT_ON else ""), num(n))
                         for d, k, n in f.tls_failures), (False, False, True), "Failures by type"))))
    if f.dmarc or scope is None:
        out.append(Section(
            "dmarc", "How our signatures fared (DMARC)",
            "Per domain and reporter, the share of messages whose DKIM signature verified, aligned.",
            (Table(("domain", "reporter", "messages", "DKIM aligned"),
                   tuple((label(x.domain), label(x.reporter), num(x.messages), pct(x.aligned_share))
                         for x in f.dmarc), (False, False, True, True), "Aligned DKIM pass by reporter"),
             Table(("domain", "source (sending server)", "messages"),
                   tuple((label(d), label(ip), num(n)) for d, ip, n in f.unsigned), (False, False, True),
                   "Sources sending as our domains without our signature"))))
    if f.unauthenticated and scope is None:
        out.append(Section(
            "reports_apart", "Reports kept apart",
            "Reports whose sender could not be authenticated (no aligned DKIM pass): stored, not counted above.",
            (Table(("kind", "reporter (as it claims)", "reports"),
                   tuple((k, label(r), num(n)) for k, r, n in f.unauthenticated), (False, False, True)),)))
    return out


def with_reports(parts: list[Section], r: WeeklyReport) -> list[Section]:
    """The summary's sections with these inserted before Retention (render.py calls this)."""
    extra = sections(r.reports, r.scope)
    at = next((i for i, s in enumerate(parts) if s.key == "retention"), len(parts))
    return parts[:at] + extra + parts[at:]
