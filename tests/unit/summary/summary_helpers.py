"""A synthetic WeeklyReport with known figures, and addresses planted where domains go."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from privacy_milter.summary.model import (
    CategoryAction, ClearHop, Count, CustomerRow, DayShare, FindingsSection, FlaggedClear, Health, HostLine,
    Retention, ScannerRow, ScannerSection, TlsSection, Totals, WeeklyReport)

TZ = ZoneInfo("Europe/London")
START = datetime(2026, 11, 23, tzinfo=TZ)
END = datetime(2026, 11, 30, tzinfo=TZ)
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=TZ)
PLANTED = "alice.secret@leaky.example"      # an address where a domain should be
SCRIPT = "<script>alert(1)</script>.example"


def synthetic() -> WeeklyReport:
    days = tuple(DayShare(date(2026, 11, 23) + timedelta(days=i), 1200 + i, 1190 + i, 500, 490 - i)
                 for i in range(7))
    return WeeklyReport(
        "2026-W48", "Europe/London", START, END,
        totals=Totals(messages_in=9876, messages_out=2469, encrypted_in=9800, encrypted_out=2441,
                      findings_stopped=37, deliveries_out=2469),
        previous=Totals(messages_in=9000, messages_out=2500, encrypted_in=8900, encrypted_out=2400,
                        findings_stopped=40, deliveries_out=2500),
        tls=TlsSection(
            inbound_by_version=(Count("TLSv1.3", 8123), Count("TLSv1.2", 1677), Count("none", 76)),
            outbound_by_level=(Count("verified", 1502), Count("encrypted", 939), Count("clear", 28)),
            outbound_by_policy=(Count("opportunistic", 1901), Count("dane", 402),
                                Count("mta-sts", 151), Count("pin", 15)),
            clear_domains=(Count("oldbank.example", 17), Count(PLANTED, 6), Count(SCRIPT, 5)),
            refused_for_tls=3, held_for_tls=2,
            failures_by_reason=(Count("starttls-not-supported", 11), Count("certificate-expired", 4),
                                Count("bad <b>reason</b>", 1)),
            by_day=days),
        findings=FindingsSection(
            by_category_action=(CategoryAction("iban", "reject", 21), CategoryAction("card", "hold", 9),
                                CategoryAction("nino", "tag", 7)),
            top_senders=(Count("shop.example", 25), Count("bob@accounts.example", 12))),
        scanners=ScannerSection(
            by_customer=(ScannerRow("shop.example", "spam", "reject", 431),
                         ScannerRow("shop.example", "virus", "reject", 2),
                         ScannerRow("clinic.example", "spam", "tag", 88)),
            errors=4, timeouts=6),
        health=Health(tempfails=13, filter_errors=1, reloads_ok=5, reloads_refused=2, restarts=1,
                      store_write_failures=0, unparsed_log_lines=19, tls_decision_failed=3,
                      tls_decision_failed_by_action=(Count("encrypt", 2), Count("reject", 1))),
        retention=Retention(window_days=90, oldest_record=datetime(2026, 8, 31, 1, 0, tzinfo=TZ),
                            purged_this_week=5432),
        customers=(CustomerRow("shop.example", 5000, 1800, 4990, 1790, 25, 431, 2, 1800),
                   CustomerRow("clinic.example", 3000, 500, 2950, 490, 12, 88, 0, 500)),
        hosts=(HostLine("mx1.hosting.example", 8000, 9, 1, 1650),
               HostLine("mx2.hosting.example", 4345, 4, 0, 819)),
        flagged_clear=FlaggedClear(2, 2, (ClearHop("oldbank.example", "", 1),
                                          ClearHop("partner.example", "smtp.relay.example", 1))),
    )


def empty() -> WeeklyReport:
    return WeeklyReport("2026-W48", "Europe/London", START, END)
