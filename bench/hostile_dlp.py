"""Hostile inputs from issue 13: how long one DLP scan takes on each, and what it says.

    .venv/bin/python bench/hostile_dlp.py [--runs N] [--deadline SECONDS] [--only NAME]
    .venv/bin/python bench/hostile_dlp.py --worker-cost [--runs N]

Each case is built here (every secret is synthetic). The scan runs with the default
Limits (max_scan_seconds bounds each scan); the table gives the median of N runs, the
findings and the unscannable reasons.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout: tests.harness

from privacy_filters.dlp import Limits, scan  # noqa: E402
from privacy_filters.dlp import pdftext  # noqa: E402
from tests.harness.hostile import (CARD, decoys, html_unclosed, message as _message,  # noqa: E402
                                   nested_message, pdf_message, shared_stream_pdf)

# The builders are tests/harness/hostile.py's, the ones the bound tests assert on.
CASES: dict[str, Callable[[], bytes]] = {
    "html-unclosed-350KB": lambda: _message("see html", html=html_unclosed(350_000)),
    "html-unclosed-2MB": lambda: _message("see html", html=html_unclosed(2_000_000)),
    "pdf-200-pages-shared-stream": lambda: pdf_message(shared_stream_pdf(200, 6000)),
    "pdf-1-page-3s-stream": lambda: pdf_message(shared_stream_pdf(1, 60_000)),
    "html-unclosed-12MB": lambda: _message("see html", html=html_unclosed(12_000_000)),
    "non-ascii-text-16MB": lambda: _message("caf\u00e9\u00a0" * 3_000_000 + f"\ncard number {CARD}"),
    "card-after-400-decoys": lambda: _message(decoys(400) + f"\ncard number {CARD} exp 12/29\n"),
    "card-after-20000-decoys": lambda: _message(decoys(20_000) + f"\ncard number {CARD} exp 12/29\n"),
    "password-after-400-masked": lambda: _message("password: ********\n" * 400 + "password: Tr0ub4dor&3xq\n"),
    "docx-nested-1000": lambda: nested_message("docx"),
    "zip-nested-5": lambda: nested_message("zip"),
    "zip-encrypted": lambda: nested_message("encrypted"),
}


def worker_cost(runs: int) -> None:
    """What reading PDFs in a worker process costs per message, against reading in-process."""
    small = pdf_message(shared_stream_pdf(1, 20))
    plain = _message("no attachment here")
    rounds = max(runs, 100)
    for label, raw in (("one-page PDF", small), ("plain text", plain)):
        for worker in (False, True):
            limits = Limits(pdf_worker=worker)
            scan(raw, limits)  # a warm worker, as in a running daemon
            start = time.perf_counter()
            for _ in range(rounds):
                scan(raw, limits)
            per = (time.perf_counter() - start) / rounds
            print(f"{label:14} worker={str(worker):5}  {per * 1e3:8.2f} ms/message "
                  f"({rounds} scans)")
    cold = []
    for _ in range(3):
        for proc in pdftext._pool:
            proc.kill()
            proc.wait()
        pdftext._pool.clear()
        start = time.perf_counter()
        scan(small)
        cold.append(time.perf_counter() - start)
    print(f"one-page PDF, worker started cold: {statistics.median(cold) * 1e3:.0f} ms "
          "(after a kill at the deadline, or the first PDF)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds from the start of each scan (default: Limits only)")
    parser.add_argument("--only", default=None)
    parser.add_argument("--worker-cost", action="store_true")
    args = parser.parse_args()
    if args.worker_cost:
        worker_cost(args.runs)
        return 0
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()} {platform.node()}; median of {args.runs} runs")
    print(f"{'case':30} {'size':>9} {'median s':>9} {'max s':>7}  outcome")
    scan(_message("warm up"))
    for name, build in CASES.items():
        if args.only and args.only not in name:
            continue
        raw = build()
        times, report = [], None
        for _ in range(args.runs):
            deadline = time.monotonic() + args.deadline if args.deadline else None
            start = time.perf_counter()
            report = scan(raw, deadline=deadline)
            times.append(time.perf_counter() - start)
        assert report is not None
        found = ",".join(f"{f.category}:{f.confidence.label}" for f in report.findings) or "-"
        reasons = ",".join(getattr(report, "unscannable_reasons", ())) or str(report.unscannable)
        print(f"{name:30} {len(raw):>9} {statistics.median(times):>9.3f} {max(times):>7.3f}  "
              f"found={found} unscannable={reasons}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
