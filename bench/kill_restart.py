#!/usr/bin/env python3
"""Kill and restart under load (issue 13): 1,000 messages through Postfix
(`milter_default_action = tempfail`) from concurrent SMTP clients plus 50 through the
sendmail command (non_smtpd_milters). Run 1: SIGKILL the daemon in the middle, restart it.
Run 2: SIGTERM it in the middle, restart it. Clients retry tempfails. After `postqueue -f`
the sink is counted by Message-ID and the store by the queue ids Postfix delivered.

    .venv/bin/python bench/kill_restart.py                  # 1,000 + 50
    .venv/bin/python bench/kill_restart.py -n 300 --clients 4

Reports per run: tries, delivered, duplicates, lost, records (and the records missing, with
how long before or after the signal each was answered). Root only (it starts Postfix).
tests/integration/test_kill_restart.py is the CI-sized version with the assertions.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.harness import load as loadgen  # noqa: E402
from tests.harness.fixtures import harness_dir  # noqa: E402
from tests.harness.milter_process import MilterProcess  # noqa: E402
from tests.harness.postfix import PostfixInstance  # noqa: E402
from tests.harness.sink import Sink  # noqa: E402

POLICY = '[network]\ntrusted_networks = ["127.0.0.1/32"]\n'


def one_run(label: str, signal_name: str, args: argparse.Namespace, root: Path) -> dict:
    milter = MilterProcess(root / f"milter-{label}", POLICY, flush_interval=args.flush,
                           host_name="bench.privacy-milter.test")
    with Sink() as sink:
        milter.start()
        postfix = PostfixInstance(root / f"postfix-{label}", relay_port=sink.port, milter=milter.spec,
                                  extra_main={"enable_long_queue_ids": "yes"}).start()
        try:
            gen = loadgen.Load(postfix.smtpd_port, tag=label)
            per_client = args.n // args.clients
            threads = gen.smtp_clients(args.clients, per_client)
            threads.append(gen.sendmail_client(postfix, args.sendmail, pause=0.1))
            deadline = time.monotonic() + 600
            while gen.answered() < args.n // 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            at = time.time()
            if signal_name == "SIGKILL":
                milter.kill()
                code = None
            else:
                code = milter.stop()
            stopped = time.time() - at
            time.sleep(args.down)
            milter.start()
            restarted = time.time() - at
            loadgen.Load.join(threads, timeout=900)
            loadgen.wait_delivered(gen, sink, postfix, timeout=300)
            milter.stop()
            report = loadgen.account(gen, sink, postfix.maillog(), milter.store_path)
            times = loadgen.answer_times(gen, postfix.maillog())
        finally:
            postfix.stop()
            milter.stop()
    offsets = sorted(round(times[q] - at, 2) for q in report.unrecorded if q in times)
    return {"run": label, "signal": signal_name, "exit": code, "stop_s": round(stopped, 2),
            "down_s": round(restarted, 2), "report": report, "missing_at": offsets,
            "given_up": len(gen.given_up)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=1000, help="SMTP messages per run")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--sendmail", type=int, default=50, help="messages through the sendmail command per run")
    ap.add_argument("--flush", type=float, default=0.2, help="[store] flush_interval")
    ap.add_argument("--down", type=float, default=1.0, help="seconds the daemon stays down")
    args = ap.parse_args()
    root = harness_dir("bench-kill")
    try:
        for label, sig in (("kill", "SIGKILL"), ("term", "SIGTERM")):
            r = one_run(label, sig, args, root)
            rep = r["report"]
            print(f"{sig}: exit {r['exit']}, back after {r['down_s']} s; {rep.line()}; "
                  f"given up {r['given_up']}, sendmail failures {rep.sendmail_failures}")
            if r["missing_at"]:
                print(f"  records missing, answered at (s from the signal): {r['missing_at']}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
