"""reports: the intake of what receivers report back about the hosted domains (issue 28).

A message to one of `[filters.reports] tlsrpt` (TLS-RPT, RFC 8460) or `dmarc` (DMARC
aggregate, RFC 7489) is read: the report found in it (reports/mail.py), unpacked and
parsed with every step bounded (reports/unpack.py, tlsrpt.py, dmarc.py), and its aggregate
metadata handed to the store (Services.reports), for hosted domains only. The reporter is
authenticated by a DKIM signature that passes and is aligned with the From domain
(reports/auth.py), and filed under that signing domain; a report without one is stored
apart (authenticated = 0, under the name it claims) and never counted in the summary's
figures, only named. A refused report (too large, a bomb, entities, malformed)
is logged with its reason and stores nothing. The mail itself is always delivered: to
discard report mail after reading, route the address to Postfix's `discard:` transport
(docs/REPORTS.md). Every other message is answered at once (`decide`), untouched.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from privacy_milter.model import Action, Message, Result
from privacy_milter.plugin import (FilterContext, FilterSettings, FilterSpec, PolicyView, Symbol, read_common,
                                   read_nameserver)
from privacy_milter.services import DnsTxt, ReportRows, ReportStoreError, Services
from privacy_milter.tomlcheck import Reader

from .reports import REASONS, ReportRefused, dmarc, mail, tlsrpt
from .reports.auth import verified_domains

log = logging.getLogger("privacy_milter.reports")
MB = 1024 * 1024


@dataclass(frozen=True)
class ReportsSettings(FilterSettings):
    tlsrpt: tuple[str, ...] = ()            # addresses TLS-RPT reports are sent to (the rua of _smtp._tls)
    dmarc: tuple[str, ...] = ()             # addresses DMARC aggregate reports are sent to (rua=)
    max_message_bytes: int = 10 * MB        # larger report mail is not read
    max_report_bytes: int = 20 * MB         # a report unpacked: past this it is refused (bombs)
    nameserver: tuple[str, int] | None = None  # for reporters' DKIM keys; None: the daemon's resolver
    dns_timeout: float = 5.0


def _address(item: str) -> str | None:
    local, at, domain = item.rpartition("@")
    return None if at and local and "." in domain and " " not in item else "not an address such as tlsrpt@example.net"


def read_settings(r: Reader) -> ReportsSettings:
    d = ReportsSettings(timeout=30.0, on_error=Action.ACCEPT)
    timeout, on_error = read_common(r, d.timeout, "accept")
    settings = ReportsSettings(
        timeout=timeout, on_error=on_error,
        tlsrpt=tuple(a.lower() for a in r.strings("tlsrpt", (), _address)),
        dmarc=tuple(a.lower() for a in r.strings("dmarc", (), _address)),
        max_message_bytes=r.integer("max_message_mb", d.max_message_bytes // MB, 1, 100) * MB,
        max_report_bytes=r.integer("max_report_mb", d.max_report_bytes // MB, 1, 200) * MB,
        nameserver=read_nameserver(r),
        dns_timeout=r.number("dns_timeout", d.dns_timeout, 0.1, 30),
    )
    if set(settings.tlsrpt) & set(settings.dmarc):
        r.problem("dmarc", "an address cannot take both TLS-RPT and DMARC reports")
    r.done()
    return settings


def _facts(kind: str, result: str, **more: str) -> tuple[tuple[str, str], ...]:
    return (("report", kind), ("report_result", result), *more.items())


class ReportsFilter:
    name = "reports"

    def __init__(self, settings: ReportsSettings, services: Services | None = None) -> None:
        self.settings = settings
        services = services or Services()
        ns = settings.nameserver
        self.resolver = (DnsTxt(ns[0], ns[1], settings.dns_timeout) if ns is not None
                         else services.dns_txt or DnsTxt(timeout=settings.dns_timeout))
        self.host = services.host_name

    def kind(self, message: Message) -> str | None:
        rcpts = {r.address.lower() for r in message.recipients}
        if rcpts & set(self.settings.tlsrpt):
            return "tlsrpt"
        if rcpts & set(self.settings.dmarc):
            return "dmarc"
        return None

    def decide(self, message: Message, ctx: FilterContext) -> Result | None:
        """Not report mail (nearly every message): answered here, without the loop."""
        return Result(self.name) if self.kind(message) is None else None

    async def check(self, message: Message, ctx: FilterContext) -> Result:
        kind = self.kind(message)
        if kind is None:
            return Result(self.name)
        limit = self.settings.max_message_bytes
        if message.body_size > limit:  # known before reading anything
            return self._refused(kind, ReportRefused("too_large", f"report mail over {limit} bytes"))
        with message.raw() as f:
            raw = f.read(limit + 1)  # headers included; never more than this in memory
        if len(raw) > limit:
            return self._refused(kind, ReportRefused("too_large", f"report mail over {limit} bytes"))
        try:
            report = await asyncio.to_thread(mail.read, raw, kind, self.settings.max_report_bytes)  # type: ignore[arg-type]
        except ReportRefused as exc:
            return self._refused(kind, exc)
        authenticated, signer = await self._authenticated(raw)
        # Figures about domains we do not host are nobody's business here (and a way to fill the store).
        ours = only_hosted(report, ctx.site.is_hosted)
        if ours is None:
            log.warning("%s report about no hosted domain: nothing stored", kind)
            return Result(self.name, facts=_facts(kind, "not_hosted"))
        rows = to_rows(ours, ctx.services.clock(), self.host, authenticated, signer)
        if ctx.services.reports is None:
            log.error("%s report from %s not stored: no store here", kind, rows.reporter)
            return Result(self.name, facts=_facts(kind, "store_failed"))
        try:
            await ctx.services.reports.write(rows)
        except ReportStoreError as exc:
            log.error("%s report from %s not stored: %s", kind, rows.reporter, exc)
            return Result(self.name, facts=_facts(kind, "store_failed"))
        log.info("%s report from %s (%s) stored: %d row(s)", kind, rows.reporter,
                 f"DKIM d={signer}" if authenticated else "not authenticated: kept apart", len(rows.rows))
        return Result(self.name, facts=_facts(kind, "stored" if authenticated else "unauthenticated"))

    def _refused(self, kind: str, exc: ReportRefused) -> Result:
        log.warning("%s report refused (%s): %s; nothing stored", kind, exc.reason, exc)
        return Result(self.name, facts=_facts(kind, "refused", report_refused=exc.reason))

    async def _authenticated(self, raw: bytes) -> tuple[bool, str]:
        """A verified DKIM signature whose d= is the From domain or a parent of it."""
        origin = mail.from_domain(raw)
        if not origin:
            return False, ""
        for d in await verified_domains(raw, self.resolver, self.settings.dns_timeout):
            if origin == d or origin.endswith("." + d):
                return True, d
        return False, ""


def only_hosted(report: tlsrpt.TlsRptReport | dmarc.DmarcReport,
                is_hosted: Callable[[str], bool]) -> tlsrpt.TlsRptReport | dmarc.DmarcReport | None:
    """The report without what concerns domains we do not host; None when nothing is left."""
    if isinstance(report, tlsrpt.TlsRptReport):
        kept = tuple(p for p in report.policies if is_hosted(p.policy_domain))
        return dataclasses.replace(report, policies=kept) if kept else None
    return report if is_hosted(report.policy_domain) else None


def to_rows(report: tlsrpt.TlsRptReport | dmarc.DmarcReport, now: float, host: str,
            authenticated: bool, signer: str = "") -> ReportRows:
    """The report's rows. An authenticated report is filed under the domain that signed it:
    anyone can sign their own mail, so the organisation a report claims to be from is only
    believed for unauthenticated reports, which are never counted."""
    auth = int(authenticated)
    reporter = signer if authenticated and signer else report.organization
    rows: list[tuple[Any, ...]] = []
    if isinstance(report, tlsrpt.TlsRptReport):
        for p in report.policies:
            failures = ",".join(f"{k}:{n}" for k, n in p.failures)
            rows.append((now, host, reporter, report.report_id, auth, report.begin, report.end,
                         p.policy_type, p.policy_domain, p.successful, p.failed, failures))
        return ReportRows("tlsrpt", reporter, report.report_id, authenticated, tuple(rows))
    for r in report.rows:
        rows.append((now, host, reporter, report.report_id, auth, report.begin, report.end,
                     report.policy_domain, report.policy, r.source_ip, r.header_from or report.policy_domain,
                     r.count, r.dkim, r.spf, r.disposition))
    return ReportRows("dmarc", reporter, report.report_id, authenticated, tuple(rows))


def _build(settings: FilterSettings, services: Services) -> ReportsFilter:
    assert isinstance(settings, ReportsSettings)
    return ReportsFilter(settings, services)


def warnings(policy: PolicyView) -> list[str]:
    """What `policy check` and start-up say: reports that would never be read."""
    s = policy.settings("reports")
    assert isinstance(s, ReportsSettings)
    listed = "reports" in policy.filters
    if listed and not (s.tlsrpt or s.dmarc):
        return ['"reports" is in [pipeline] filters but [filters.reports] names no tlsrpt or dmarc address: '
                "it reads nothing (docs/REPORTS.md)"]
    if not listed and (s.tlsrpt or s.dmarc):
        return ['[filters.reports] names report addresses but "reports" is not in [pipeline] filters: '
                "the reports are delivered unread and the summary shows none"]
    return []


RESULTS = ("stored", "unauthenticated", "not_hosted", "refused", "store_failed")


SYMBOLS = (
    Symbol("report", values=frozenset({"tlsrpt", "dmarc"}), help="the message was a report mail of this kind"),
    Symbol("report_result", values=frozenset(RESULTS), help="what became of the report", log_key="report"),
    Symbol("report_refused", values=frozenset(REASONS), help="why a report was refused (nothing stored)"),
)

SPEC = FilterSpec(name="reports", read=read_settings, build=_build, warnings=warnings, symbols=SYMBOLS)
