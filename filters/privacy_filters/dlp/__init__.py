"""DLP detection: payment cards, IBANs, UK bank accounts and passwords in outbound mail.

    from privacy_filters.dlp import scan, Limits, Report
    report = scan(raw_message_bytes_or_binary_file, deadline=time.monotonic() + 5)
    report.findings     # one Finding per category: count, best confidence, where
    report.unscannable  # attachments (or searches) that could not be completed
    report.unscannable_reasons  # why: "encrypted", "time", "too_deep", ...

No matched value ever leaves this package: findings carry categories and counts only.
See docs/DLP.md for how detection works.
"""

from .limits import Limits
from .modulus import ModulusTable
from .report import CATEGORIES, Report
from .scanner import scan

__all__ = ["scan", "Limits", "Report", "ModulusTable", "CATEGORIES"]
