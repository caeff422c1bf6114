"""The summary's figures from what receivers reported (TLS-RPT, DMARC aggregate): plain
values, filled by reports_section.read_figures and laid out by reports_section.sections."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TlsRptLine:
    domain: str
    reporter: str
    successful: int
    failed: int


@dataclass(frozen=True)
class DmarcLine:
    domain: str
    reporter: str
    messages: int
    dkim_aligned: int   # messages whose DKIM passed aligned (our signature verified)

    @property
    def aligned_share(self) -> float | None:
        return 100.0 * self.dkim_aligned / self.messages if self.messages else None


@dataclass(frozen=True)
class ReportsFigures:
    tlsrpt: tuple[TlsRptLine, ...] = ()
    tls_failures: tuple[tuple[str, str, int], ...] = ()      # (domain, result type, sessions)
    dmarc: tuple[DmarcLine, ...] = ()
    unsigned: tuple[tuple[str, str, int], ...] = ()          # (domain, source IP, messages) not DKIM-aligned
    unauthenticated: tuple[tuple[str, str, int], ...] = ()   # (kind, reporter, reports) kept apart

    @property
    def empty(self) -> bool:
        return not (self.tlsrpt or self.dmarc or self.unauthenticated)
