"""Reading what receivers report back about the hosted domains (issue 28).

`unpack` (bounded gzip and zip), `tlsrpt` (RFC 8460 JSON), `dmarc` (RFC 7489 aggregate
XML, through defusedxml), `mail` (finding the report in a message): pure functions,
each bounded, each refusal a `ReportRefused` with a fixed reason word for logs and
metrics. Only aggregate metadata comes out: organisation, date range, policy domain,
counts and result words; never a contact address, a reporter's sending IP or a
recipient.
"""

from __future__ import annotations

REASONS = ("too_large", "malformed", "entities", "not_a_report", "too_many")


class ReportRefused(Exception):
    """A report that is not read. `reason` is one of REASONS; the text says why for the log
    (it never quotes the report's content)."""

    def __init__(self, reason: str, text: str) -> None:
        assert reason in REASONS
        super().__init__(text)
        self.reason = reason
