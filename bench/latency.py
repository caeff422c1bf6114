#!/usr/bin/env python3
"""Added latency at a steady rate: the time Postfix takes to answer the end of DATA, with
privacy-milter and without, for messages sent at a fixed rate (issue 11: p99 < 10 ms added
for 100 KB at 50 msg/s, no external scanners).

    .venv/bin/python bench/latency.py                     # 4 KB and 100 KB, 50 msg/s, 500 each
    .venv/bin/python bench/latency.py --size 100 --rate 50 -n 1000

For each configuration (Postfix alone, then privacy-milter) a fresh Postfix and sink are
started; a sender thread starts one message every 1/rate seconds on a pool of persistent
SMTP connections and times DATA (the message and its final dot) to the 250 reply. Reports
p50/p95/p99/max per configuration and the difference. Root only (it starts Postfix).
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import smtplib
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.throughput import privacy_milter  # noqa: E402
from tests.harness.postfix import PostfixInstance  # noqa: E402
from tests.harness.sink import Sink  # noqa: E402

POOL = 10  # connections; enough that a slow answer never delays the next send


def make_message(i: int, size_kb: int) -> bytes:
    line = b"The quarterly figures are attached below for review by the committee.\r\n"
    body = line * max(1, size_kb * 1024 // len(line))
    head = (f"From: Alice <alice@shop.example>\r\nTo: Bob <bob@far.example>\r\nSubject: Report {i}\r\n"
            f"Message-ID: <lat-{i}@shop.example>\r\n\r\n").encode()
    return head + body


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(port: int, total: int, rate: float, size_kb: int, deadline: float) -> list[float]:
    """Send `total` messages at `rate` per second; return each DATA-to-250 time in seconds."""
    jobs: queue.Queue[int | None] = queue.Queue()
    times: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()
    payloads = [make_message(i, size_kb) for i in range(total)]

    def worker() -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as c:
                c.ehlo("latency.test")
                while (i := jobs.get()) is not None:
                    c.mail("alice@shop.example")
                    c.rcpt("bob@far.example")
                    started = time.perf_counter()
                    code, _ = c.data(payloads[i])
                    elapsed = time.perf_counter() - started
                    if code != 250:
                        raise RuntimeError(f"DATA answered {code}")
                    with lock:
                        times.append(elapsed)
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(POOL)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    for i in range(total):
        due = start + i / rate
        while (now := time.perf_counter()) < due:
            time.sleep(min(0.002, due - now))
        if time.monotonic() > deadline:
            break
        jobs.put(i)
    for _ in threads:
        jobs.put(None)
    for t in threads:
        t.join(max(1.0, deadline - time.monotonic()))
    if errors:
        raise RuntimeError(f"{len(errors)} sender error(s), first: {errors[0]!r}")
    return times


def one_config(config: str, total: int, rate: float, size_kb: int, timeout: float) -> list[float]:
    workdir = Path(tempfile.mkdtemp(prefix=f"pm-lat-{config}-"))
    os.chmod(workdir, 0o755)
    milter = None
    postfix = None
    try:
        with Sink() as sink:
            if config == "privacy":
                milter = privacy_milter(workdir, None).start()
            postfix = PostfixInstance(workdir / "postfix", relay_port=sink.port,
                                      milter=milter.spec if milter else None, mynetworks="127.0.0.0/8").start()
            deadline = time.monotonic() + timeout
            run(postfix.smtpd_port, POOL * 2, rate, size_kb, deadline)  # warm-up: processes forked
            return run(postfix.smtpd_port, total, rate, size_kb, deadline)
    finally:
        if postfix is not None:
            postfix.stop()
        if milter is not None:
            milter.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, action="append", help="message size in KB (repeatable; default 4 and 100)")
    ap.add_argument("--rate", type=float, default=50.0, help="messages per second (default 50)")
    ap.add_argument("-n", "--messages", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=300.0)
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        ap.error("must run as root (it starts Postfix)")
    print("| size | config | msgs | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in args.size or [4, 100]:
        results = {}
        for config in ("none", "privacy"):
            t = results[config] = one_config(config, args.messages, args.rate, size, args.timeout)
            ms = [1000 * x for x in t]
            print(f"| {size} KB | {config} | {len(t)} | {percentile(ms, 50):.1f} | {percentile(ms, 95):.1f} | "
                  f"{percentile(ms, 99):.1f} | {max(ms):.1f} |", flush=True)
        added = {p: 1000 * (percentile(results["privacy"], p) - percentile(results["none"], p)) for p in (50, 99)}
        print(f"| {size} KB | added by privacy-milter | | {added[50]:.1f} | | {added[99]:.1f} | |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
