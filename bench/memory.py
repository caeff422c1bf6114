#!/usr/bin/env python3
"""Memory of the privacy-milter daemon under large messages, through a real Postfix.

Starts a sink, the daemon (`privacy-milter run`) and a throwaway Postfix on loopback, then
sends, in turn: 20 small messages (baseline), one message of --size MB, and --parallel
messages of --size MB at once. After each step it reads the daemon's peak resident set
(VmHWM) and current RSS from /proc. Prints a table; exit 1 if a step fails.

    .venv/bin/python bench/memory.py                    # 50 MB, then 4 x 50 MB in parallel
    .venv/bin/python bench/memory.py --size 20 --parallel 8
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness.fixtures import harness_dir  # noqa: E402
from tests.harness.milter_process import MilterProcess  # noqa: E402
from tests.harness.postfix import PostfixInstance  # noqa: E402
from tests.harness.sink import Sink  # noqa: E402

from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS  # noqa: E402

LINE = b"Quarterly figures attached; call me on 020 7946 0000 about invoice 55123-A. " * 2 + b"\r\n"


def message(size_mb: int, tag: str) -> bytes:
    body = LINE * (size_mb * 1024 * 1024 // len(LINE))
    return (f"From: a@shop.example\r\nTo: b@far.example\r\nSubject: {tag}\r\n\r\n".encode() + body)


def status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0]) // 1024  # MB
    return out


def send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=300) as client:
        client.sendmail("a@shop.example", ["b@far.example"], raw)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=50, help="MB per large message (default 50)")
    ap.add_argument("--parallel", type=int, default=4, help="large messages sent at once (default 4)")
    args = ap.parse_args()

    root = harness_dir("bench-memory")
    sink = Sink().start()
    milter = MilterProcess(root / "milter", '[network]\ntrusted_networks = ["127.0.0.0/8"]\n',
                           host_name="bench.privacy-milter.test").start()
    postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec,
                              extra_main={"message_size_limit": str((args.size + 5) * 1024 * 1024),
                                          **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()}}).start()
    assert milter.proc is not None
    pid = milter.proc.pid
    rows: list[tuple[str, float, dict[str, int]]] = [("started", 0.0, status(pid))]
    try:
        t = time.monotonic()
        for i in range(20):
            send(postfix.smtpd_port, message(0, f"small {i}") + b"hello\r\n")
        rows.append(("20 small messages", time.monotonic() - t, status(pid)))

        t = time.monotonic()
        send(postfix.smtpd_port, message(args.size, "one large"))
        rows.append((f"1 x {args.size} MB", time.monotonic() - t, status(pid)))

        t = time.monotonic()
        raw = message(args.size, "parallel large")
        errors: list[BaseException] = []

        def one() -> None:
            try:
                send(postfix.smtpd_port, raw)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=one) for _ in range(args.parallel)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(600)
        if errors:
            print(f"parallel sends failed: {errors[0]!r}", file=sys.stderr)
            return 1
        rows.append((f"{args.parallel} x {args.size} MB at once", time.monotonic() - t, status(pid)))
        sink.wait_for(21 + args.parallel, timeout=600)
    finally:
        postfix.stop()
        milter.stop()
        sink.stop()
        shutil.rmtree(root, ignore_errors=True)

    print("| step | seconds | daemon RSS MB | peak RSS (VmHWM) MB |")
    print("|---|---:|---:|---:|")
    for name, seconds, st in rows:
        print(f"| {name} | {seconds:.1f} | {st.get('VmRSS', 0)} | {st.get('VmHWM', 0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
