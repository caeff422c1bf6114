#!/usr/bin/env python3
"""DLP scan speed in one process (issue 11): MB/s on a message with a large base64
attachment, and CPU per message over corpora.

    .venv/bin/python bench/dlp_speed.py --attachment-mb 10 --runs 7     # MB/s, median
    .venv/bin/python bench/dlp_speed.py --corpus DIR [DIR ...] --runs 3 # CPU ms per message, MB/s
    make bench   # both: the dev corpus and a 10 MiB attachment
    .venv/bin/python bench/dlp_speed.py --corpus DIR --profile          # pyinstrument, top
    .venv/bin/python bench/dlp_speed.py --corpus DIR --profile-command  # the same over what
        # `privacy-milter scan --json` does per message, in one process (read, pipeline, JSON)
    ... --stdlib   # every message through the stdlib MIME parser (the path before fastmime)

The attachment is text/csv (rows with a synthetic card number at the end) so its text is
decoded, scanned and the card found; --binary makes it application/octet-stream random
bytes (decoded, not scanned as text). CPU is this process's time.process_time().
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from privacy_filters.dlp import Limits, mime, scan

CARD = "4539148803436467"  # synthetic, passes Luhn


def attachment_message(mb: float, binary: bool) -> bytes:
    size = int(mb * 1024 * 1024)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.net", "the export"
    msg.set_content("Hello, the export is attached.\n")
    if binary:
        msg.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream",
                           filename="blob.bin")
    else:
        row = b"2024-01-01,order 123456,shipped to 1 High Street,GBP 12.50\n"
        data = row * (size // len(row)) + f"card number {CARD} exp 12/29\n".encode()
        msg.add_attachment(data, maintype="text", subtype="csv", filename="export.csv")
    raw = msg.as_bytes()
    assert b"Content-Transfer-Encoding: base64" in raw
    return raw


def timed(raw: bytes, limits: Limits) -> tuple[float, object]:
    cpu = time.process_time()
    report = scan(raw, limits)
    return time.process_time() - cpu, report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--attachment-mb", type=float, default=0)
    ap.add_argument("--binary", action="store_true")
    ap.add_argument("--corpus", type=Path, nargs="*", default=[])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stdlib", action="store_true", help="the stdlib MIME parser for every message")
    ap.add_argument("--profile", action="store_true", help="pyinstrument over the corpus (bench extra)")
    ap.add_argument("--profile-command", action="store_true",
                    help="pyinstrument over privacy_milter.scan.scan_files(..., workers=1) on the corpus")
    args = ap.parse_args()
    mime.FAST_PARSE = not args.stdlib
    path = "stdlib parser" if args.stdlib else "fastmime"
    limits = Limits(max_scan_seconds=60)
    if args.attachment_mb:
        raw = attachment_message(args.attachment_mb, args.binary)
        timed(raw, limits)  # warm-up
        secs, reports = [], []
        for _ in range(args.runs):
            s, report = timed(raw, limits)
            secs.append(s)
            reports.append(report)
        mb = len(raw) / 1e6
        print(f"{path}: message of {mb:.1f} MB ({args.attachment_mb} MiB "
              f"{'binary' if args.binary else 'text/csv'} attachment, base64): CPU s per scan "
              + ", ".join(f"{s:.3f}" for s in secs)
              + f"; median {statistics.median(secs):.3f} s = {mb / statistics.median(secs):.0f} MB/s")
        print(f"findings: {sorted(f.category for f in reports[-1].findings)}; "  # type: ignore[attr-defined]
              f"unscannable: {reports[-1].unscannable_reasons}")  # type: ignore[attr-defined]
    if args.corpus and args.profile_command:
        return profile_command(args.corpus)
    if args.corpus:
        data = [p.read_bytes() for d in args.corpus for p in sorted(d.glob("*.eml"))]
        if not data:
            print("no .eml files", file=sys.stderr)
            return 2
        for raw in data[:100]:
            scan(raw, limits)  # warm-up: imports, regex compilation
        if args.profile:
            from pyinstrument import Profiler

            profiler = Profiler()
            profiler.start()
            for raw in data:
                scan(raw, limits)
            profiler.stop()
            print(profiler.output_text(unicode=False, show_all=False, time="percent_of_total"))
            return 0
        per = []
        for _ in range(args.runs):
            cpu = time.process_time()
            for raw in data:
                scan(raw, limits)
            per.append((time.process_time() - cpu) / len(data) * 1e3)
        mb = sum(len(raw) for raw in data) / 1e6
        median = statistics.median(per)
        print(f"{path}: {len(data)} messages ({mb:.2f} MB), CPU ms per message "
              + ", ".join(f"{p:.3f}" for p in per) + f"; median {median:.3f} "
              f"= {mb / (median * len(data) / 1e3):.2f} MB/s")
    return 0


def profile_command(dirs: list[Path]) -> int:
    import io

    from pyinstrument import Profiler

    from privacy_milter import policy as policy_mod
    from privacy_milter.scan import scan_files

    files = [p for d in dirs for p in sorted(d.glob("*.eml"))]
    scan_files(files[:100], policy_mod.default, True, io.StringIO(), workers=1)  # warm-up
    profiler = Profiler(interval=0.0002)
    profiler.start()
    scan_files(files, policy_mod.default, True, io.StringIO(), workers=1)
    profiler.stop()
    print(profiler.output_text(unicode=False, show_all=False, time="percent_of_total"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
