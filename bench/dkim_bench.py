"""DKIM signing cost per message: rsa-2048 and ed25519, a 4 KB and a 100 KB message.

    .venv/bin/python bench/dkim_bench.py [--runs N] [--per-run M] [--canonicalization relaxed/relaxed]

Each run signs M messages and reports the time per message; the table shows the median
of N runs. Keys are made fresh in a temporary directory (keygen, mode 0600) and deleted.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path
from types import MappingProxyType

from privacy_filters.dkim.keys import keygen, load_key
from privacy_filters.dkim.settings import DkimSettings
from privacy_filters.dkim.sign import sign

DOMAIN = "example.co.uk"


def message(size: int) -> bytes:
    head = (b"From: Alice <alice@example.co.uk>\r\nTo: bob@example.org\r\nCc: carol@example.org\r\n"
            b"Subject: quarterly figures\r\nDate: Mon, 02 Jun 2025 10:00:00 +0100\r\n"
            b"Message-ID: <bench@example.co.uk>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\nX-Privacy-Scan: clean\r\n\r\n")
    line = b"Quarterly figures attached; call about invoice 48213 due 12/03/2026. Thanks!\r\n"
    body = (line * (size // len(line) + 1))[: size - len(head)]
    return head + body


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--per-run", type=int, default=50)
    parser.add_argument("--canonicalization", default="relaxed/relaxed")
    args = parser.parse_args()
    canon = tuple(args.canonicalization.split("/"))
    with tempfile.TemporaryDirectory() as tmp:
        keys = {}
        for label, algorithm in (("rsa-2048", "rsa-sha256"), ("ed25519", "ed25519-sha256")):
            path, _ = keygen(DOMAIN, label, algorithm, Path(tmp))  # type: ignore[arg-type]
            keys[label] = load_key(path, algorithm, label)  # type: ignore[arg-type]
        print(f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
              f"{args.runs} runs x {args.per_run} messages, c={args.canonicalization}")
        print("| key | message | median ms/message | min | max |")
        print("|---|---|---|---|---|")
        for label, key in keys.items():
            settings = DkimSettings(keys=MappingProxyType({DOMAIN: (key,)}), canonicalization=canon)  # type: ignore[arg-type]
            for size_label, size in (("4 KB", 4 * 1024), ("100 KB", 100 * 1024)):
                raw = message(size)
                sign(raw, DOMAIN, [key], settings)   # warm-up
                per_run = []
                for _ in range(args.runs):
                    start = time.perf_counter()
                    for _ in range(args.per_run):
                        sign(raw, DOMAIN, [key], settings)
                    per_run.append((time.perf_counter() - start) / args.per_run * 1000)
                print(f"| {label} | {size_label} | {statistics.median(per_run):.2f} | "
                      f"{min(per_run):.2f} | {max(per_run):.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
