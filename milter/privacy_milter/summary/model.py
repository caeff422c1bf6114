"""The weekly report as typed, frozen data: every figure the summary shows, and nothing else.

The store's report queries fill a WeeklyReport (the lead wires them); the renderers only read
it. It holds domains, host names, category and reason codes, and counts: there is no field
for an address, a subject or a found value. Rows are tuples, already sorted by the query
(largest first), so rendering never re-orders or re-counts.
"""

from __future__ import annotations

from .quarantine import QuarantineWeek

from dataclasses import dataclass, field, replace
from datetime import date, datetime

from .reports_model import ReportsFigures


@dataclass(frozen=True, slots=True)
class Count:
    key: str           # a TLS version, level, policy, domain, reason code ...
    n: int


@dataclass(frozen=True, slots=True)
class Totals:
    messages_in: int = 0
    messages_out: int = 0
    encrypted_in: int = 0        # inbound sessions that used STARTTLS
    encrypted_out: int = 0       # outbound deliveries sent over TLS (verified or not)
    findings_stopped: int = 0    # messages refused or held for sensitive data
    deliveries_out: int = 0      # outbound deliveries sent (from the mail log): the base of `out_share`

    @property
    def messages(self) -> int:
        return self.messages_in + self.messages_out

    @property
    def encrypted(self) -> int:
        return self.encrypted_in + self.encrypted_out

    @property
    def in_share(self) -> float | None:
        return share(self.encrypted_in, self.messages_in)

    @property
    def out_share(self) -> float | None:
        """Deliveries, not messages: only Postfix's log knows how each recipient's copy left."""
        return share(self.encrypted_out, self.deliveries_out)

    @property
    def encrypted_share(self) -> float | None:
        """Inbound messages and outbound deliveries together: each an SMTP hand-over."""
        return share(self.encrypted_in + self.encrypted_out, self.messages_in + self.deliveries_out)


def share(part: int, whole: int) -> float | None:
    """part/whole as a percentage, None when there is nothing to divide."""
    return 100.0 * part / whole if whole else None


@dataclass(frozen=True, slots=True)
class DayShare:
    day: date                    # local date in the report's timezone
    messages_in: int
    encrypted_in: int
    messages_out: int            # outbound deliveries sent (the mail log), the base of encrypted_out
    encrypted_out: int


@dataclass(frozen=True, slots=True)
class TlsSection:
    inbound_by_version: tuple[Count, ...] = ()      # TLSv1.3, TLSv1.2, ..., "none"
    outbound_by_level: tuple[Count, ...] = ()       # verified, encrypted, clear
    outbound_by_policy: tuple[Count, ...] = ()      # dane, mta-sts, pin, opportunistic
    clear_domains: tuple[Count, ...] = ()           # destinations that got mail in clear (directly)
    clear_relays: tuple[Count, ...] = ()            # the relayhost, when it got mail in clear
    relayed_inbound: int = 0     # copies of inbound mail relayed onward (to mailbox servers), sent
    relayed_inbound_clear: int = 0                  # ... of which without TLS
    refused_for_tls: int = 0     # flagged messages refused: the recipient could not do TLS
    held_for_tls: int = 0        # ... held for the same reason
    failures_by_reason: tuple[Count, ...] = ()      # TLS-RPT result types
    by_day: tuple[DayShare, ...] = ()


@dataclass(frozen=True, slots=True)
class CategoryAction:
    category: str                # a DLP category (iban, card, ...), never a value
    action: str                  # reject, hold, tag, ...
    n: int


@dataclass(frozen=True, slots=True)
class FindingsSection:
    by_category_action: tuple[CategoryAction, ...] = ()
    top_senders: tuple[Count, ...] = ()             # sending customer domains


@dataclass(frozen=True, slots=True)
class ScannerRow:
    domain: str                  # an opted-in customer domain
    scanner: str                 # spam | virus
    action: str                  # reject, tag, quarantine, pass
    n: int


@dataclass(frozen=True, slots=True)
class ScannerSection:
    by_customer: tuple[ScannerRow, ...] = ()
    errors: int = 0
    timeouts: int = 0


@dataclass(frozen=True, slots=True)
class Health:
    tempfails: int = 0
    filter_errors: int = 0
    reloads_ok: int = 0
    reloads_refused: int = 0
    restarts: int = 0
    store_write_failures: int = 0
    unparsed_log_lines: int = 0
    tls_decision_failed: int = 0                    # flagged messages whose TLS decision failed
    tls_decision_failed_by_action: tuple[Count, ...] = ()   # ... by the action applied instead


@dataclass(frozen=True, slots=True)
class ClearHop:
    domain: str                  # the recipient's domain
    relay: str                   # the relayhost it was handed to in clear, or "" (sent directly)
    messages: int


@dataclass(frozen=True, slots=True)
class FlaggedClear:
    """Flagged messages (DLP findings acted on) that left without TLS: the one figure an admin
    must act on, shown first when it is not zero."""
    messages: int = 0
    deliveries: int = 0
    hops: tuple[ClearHop, ...] = ()
    unverified: int = 0          # flagged messages passed on that the delivery log never showed


@dataclass(frozen=True, slots=True)
class Retention:
    window_days: int = 0
    oldest_record: datetime | None = None
    purged_this_week: int = 0


@dataclass(frozen=True, slots=True)
class CustomerRow:
    domain: str
    messages_in: int
    messages_out: int
    encrypted_in: int
    encrypted_out: int
    findings: int
    spam: int
    virus: int
    deliveries_out: int = 0      # sent deliveries of its outbound mail (the base of enc out)


@dataclass(frozen=True, slots=True)
class HostLine:
    host: str                    # the machine running the milter
    messages: int
    tempfails: int
    restarts: int                # not recorded yet (see queries.NOT_RECORDED): 0
    deliveries: int = 0          # sent deliveries its delivery-log reader saw


@dataclass(frozen=True, slots=True)
class WeeklyReport:
    iso_week: str                # "2026-W48"
    timezone: str                # "Europe/London"
    period_start: datetime       # aware, local Monday 00:00
    period_end: datetime         # aware, the next Monday 00:00 (exclusive)
    totals: Totals = field(default_factory=Totals)
    previous: Totals | None = None                  # the week before, when the store has it
    tls: TlsSection = field(default_factory=TlsSection)
    findings: FindingsSection = field(default_factory=FindingsSection)
    scanners: ScannerSection = field(default_factory=ScannerSection)
    health: Health = field(default_factory=Health)
    retention: Retention = field(default_factory=Retention)
    customers: tuple[CustomerRow, ...] = ()         # the top N hosted domains
    hosts: tuple[HostLine, ...] = ()
    scope: str | None = None     # a customer domain: this report covers only that domain
    missing: tuple[str, ...] = ()  # figures the store does not hold: said, not shown as 0
    flagged_clear: FlaggedClear = field(default_factory=FlaggedClear)
    quarantine: QuarantineWeek = field(default_factory=QuarantineWeek)  # issue 27: summary/quarantine.py
    reports: ReportsFigures = field(default_factory=ReportsFigures)  # TLS-RPT and DMARC (issue 28)

    @property
    def week_number(self) -> int:
        return int(self.iso_week.rsplit("W", 1)[1])

    @property
    def year(self) -> int:
        return int(self.iso_week.split("-", 1)[0])

    @property
    def is_empty(self) -> bool:
        return (self.totals.messages == 0 and not self.tls.outbound_by_level
                and not self.flagged_clear.messages and not self.flagged_clear.unverified)

    def for_customer(self, domain: str) -> "WeeklyReport":
        """The same week seen by one customer: its own row as the headline, only its rows in
        the tables, none of the operator's sections (health, hosts, other customers). For the
        full TLS picture of one domain the store should run its queries with that scope."""
        domain = domain.lower()
        row = next((c for c in self.customers if c.domain == domain), None)
        totals = Totals() if row is None else Totals(
            row.messages_in, row.messages_out, row.encrypted_in, row.encrypted_out, row.findings,
            row.deliveries_out)
        return replace(
            self, totals=totals, previous=None, scope=domain,
            tls=TlsSection(), health=Health(), hosts=(), flagged_clear=FlaggedClear(),
            customers=() if row is None else (row,),
            findings=FindingsSection((), tuple(c for c in self.findings.top_senders if c.key == domain)),
            scanners=ScannerSection(tuple(r for r in self.scanners.by_customer if r.domain == domain)),
            retention=self.retention)
