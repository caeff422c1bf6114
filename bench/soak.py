#!/usr/bin/env python3
"""Soak (issue 13): 100 concurrent SMTP connections for N minutes through Postfix and the
daemon, mixed sizes up to 10 MB; then count what arrived and look at the daemon.

    .venv/bin/python bench/soak.py                 # 10 minutes
    .venv/bin/python bench/soak.py --minutes 3     # the short run

Each connection sends one message after another (RSET between them) with a unique
Message-ID; sizes cycle 2 KB x7, 100 KB x2, 1 MB, and every 50th message is 10 MB. Reports
messages sent and delivered (the sink counts by Message-ID and keeps only the headers), the
daemon's RSS after warm-up and at the end (growth %), its open descriptors and threads at
start and end, and the spool files left in its TMPDIR (named or open). Root only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import smtplib
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.harness import load as loadgen  # noqa: E402
from tests.harness.fixtures import harness_dir  # noqa: E402
from tests.harness.milter_process import MilterProcess  # noqa: E402
from tests.harness.postfix import PostfixInstance  # noqa: E402
from tests.harness.sink import ReceivedMessage, Sink  # noqa: E402

POLICY = '[network]\ntrusted_networks = ["127.0.0.1/32"]\n'
KB = 1024
SIZES = (2 * KB,) * 7 + (100 * KB,) * 2 + (1024 * KB,)
BIG = 10 * 1024 * KB


class HeadSink(Sink):
    """Keeps only the first 2 KB of each message: hours of 10 MB messages fit in memory."""

    def _record(self, msg: ReceivedMessage) -> None:
        head = ReceivedMessage(msg.mail_from, msg.rcpt_tos, msg.raw[:2048], msg.tls, msg.tls_version,
                               msg.cipher, msg.peer, msg.helo)
        super()._record(head)


def proc_facts(pid: int) -> dict[str, int]:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {"rss_kb": int(fields["VmRSS"].split()[0]), "threads": int(fields["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd"))}


def open_spools(pid: int, tmp: Path) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(tmp)):
                n += 1
        except OSError:
            continue
    return n


def connection(port: int, n: int, stop: threading.Event, sent: dict[str, int], errors: list[str],
               lock: threading.Lock) -> None:
    i = 0
    while not stop.is_set():
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=300) as client:
                client.ehlo("soak.test")
                while not stop.is_set():
                    i += 1
                    size = BIG if i % 50 == 0 else SIZES[i % len(SIZES)]
                    mid = f"soak-{n}-{i}"
                    client.sendmail(loadgen.SENDER, [loadgen.RCPT], loadgen.message(mid, size))
                    with lock:
                        sent[mid] = size
                    client.rset()
        except (smtplib.SMTPException, OSError) as exc:
            with lock:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
            time.sleep(0.5)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=100)
    ap.add_argument("--warmup", type=float, default=30.0, help="seconds before the first RSS reading")
    args = ap.parse_args()
    root = harness_dir("bench-soak")
    tmp = root / "tmp"
    tmp.mkdir()
    milter = MilterProcess(root / "milter", POLICY, env={"TMPDIR": str(tmp)}, host_name="bench.privacy-milter.test")
    try:
        with HeadSink() as sink:
            milter.start()
            assert milter.proc is not None
            pid = milter.proc.pid
            start = proc_facts(pid)
            postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec, extra_main={
                "message_size_limit": str(64 * 1024 * 1024), "default_process_limit": "200",
                "smtpd_client_connection_count_limit": "0", "smtpd_client_connection_rate_limit": "0",
            }).start()
            try:
                stop = threading.Event()
                sent: dict[str, int] = {}
                errors: list[str] = []
                lock = threading.Lock()
                threads = [threading.Thread(target=connection, args=(postfix.smtpd_port, n, stop, sent, errors, lock),
                                            daemon=True) for n in range(args.connections)]
                t0 = time.monotonic()
                for t in threads:
                    t.start()
                time.sleep(min(args.warmup, args.minutes * 60 / 3))
                warm = proc_facts(pid)
                samples = [(time.monotonic() - t0, warm["rss_kb"])]
                while time.monotonic() - t0 < args.minutes * 60:
                    time.sleep(1)
                    if time.monotonic() - t0 - samples[-1][0] >= 30:
                        samples.append((time.monotonic() - t0, proc_facts(pid)["rss_kb"]))
                stop.set()
                for t in threads:
                    t.join(330)
                elapsed = time.monotonic() - t0
                deadline = time.monotonic() + 300 + args.minutes * 60  # the sink relays slower than Postfix takes
                want = set(sent)
                while time.monotonic() < deadline:
                    got = {loadgen.mid_of(m.raw) for m in sink.messages}
                    if want <= got:
                        break
                    time.sleep(1)
                got_list = [loadgen.mid_of(m.raw) for m in sink.messages]
                time.sleep(2)
                end = proc_facts(pid)
                spools_open = open_spools(pid, tmp)
                spools_named = len(list(tmp.iterdir()))
                queued = len(postfix.queue())  # accepted, not yet relayed: not lost
            finally:
                postfix.stop()
            code = milter.stop()
    finally:
        milter.stop()
        shutil.rmtree(root, ignore_errors=True)
    delivered = set(got_list) & want
    mb = sum(sent.values()) / 1024 / 1024
    print(f"{args.connections} connections, {elapsed / 60:.1f} min: sent {len(sent)} messages ({mb:,.0f} MB, "
          f"{len(sent) / elapsed:.1f} msg/s), delivered {len(delivered)}, "
          f"still in Postfix's queue {queued}, missing {len(want - delivered) - queued}, "
          f"duplicates {len(got_list) - len(set(got_list))}, client errors {len(errors)}")
    growth = (end["rss_kb"] - warm["rss_kb"]) / warm["rss_kb"] * 100
    print(f"RSS: start {start['rss_kb'] / 1024:.0f} MB, after warm-up {warm['rss_kb'] / 1024:.0f} MB, "
          f"end {end['rss_kb'] / 1024:.0f} MB ({growth:+.1f} %)")
    print("RSS every 30 s under load: " + ", ".join(f"{t:.0f}s {kb / 1024:.0f} MB" for t, kb in samples))
    print(f"descriptors: start {start['fds']}, warm {warm['fds']}, end {end['fds']}; "
          f"threads: start {start['threads']}, warm {warm['threads']}, end {end['threads']}")
    print(f"spool files left in TMPDIR: {spools_named} named, {spools_open} open; daemon exit {code}")
    for e in sorted(set(errors))[:5]:
        print("  client error:", e)


if __name__ == "__main__":
    main()
