"""Throughput of the DLP scan: MB/s and µs per message over a corpus, and one big message.

    .venv/bin/python bench/dlp_bench.py CORPUS_DIR [--rounds N]

The big message is built here: a short body plus a 10 MB text/plain attachment (base64),
made of ordinary prose with a few numbers, so it exercises decoding and the RE2 pass.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from email.message import EmailMessage
from pathlib import Path

from privacy_filters.dlp import scan


def big_message(size: int = 10 * 1024 * 1024) -> bytes:
    line = ("Quarterly figures attached; call 01632 960 001 about invoice 48213 "
            "due 12/03/2026, room 4, ticket #5521. Thanks!\n")
    text = (line * (size // len(line) + 1))[:size]
    msg = EmailMessage()
    msg["Subject"] = "Big export"
    msg["From"] = "a@example.org"
    msg["To"] = "b@example.org"
    msg.set_content("See attachment.\n")
    msg.add_attachment(text.encode(), maintype="text", subtype="plain", filename="export.txt")
    return msg.as_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    messages = [p.read_bytes() for p in sorted(args.corpus.glob("*.eml"))]
    total = sum(len(m) for m in messages)
    scan(messages[0])  # compile the pattern set outside the timing
    timings = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for raw in messages:
            scan(raw)
        timings.append(time.perf_counter() - start)
    best = min(timings)
    print(f"corpus: {len(messages)} messages, {total / 1e6:.2f} MB")
    print(f"  best of {args.rounds}: {best:.3f} s  {total / 1e6 / best:.2f} MB/s  "
          f"{best / len(messages) * 1e6:.0f} µs/message "
          f"(median round {statistics.median(timings):.3f} s)")
    big = big_message()
    start = time.perf_counter()
    report = scan(big)
    elapsed = time.perf_counter() - start
    print(f"one message with a 10 MB text attachment ({len(big) / 1e6:.1f} MB raw): "
          f"{elapsed:.3f} s  ({len(big) / 1e6 / elapsed:.1f} MB/s), "
          f"findings={len(report.findings)} unscannable={report.unscannable}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
