#!/usr/bin/env python3
"""Throughput of Postfix with and without a milter, on loopback, real servers only.

For each configuration a fresh aiosmtpd sink and a throwaway Postfix instance are started;
N messages go over C concurrent SMTP connections; a message counts as done when the sink
has received it. Configurations:

  none     Postfix alone
  noop     a do-nothing pymilter milter on a unix socket (tests/harness/noop_milter.py):
           no callbacks, so Postfix negotiates every step away
  listen   the same milter asking for what privacy-milter asks for (sender, recipients,
           headers, body, end of message; each callback does nothing, eom accepts): the
           ceiling pymilter sets for a milter that reads the whole message
  floor    the listen milter plus only the work issue 11 keeps: the DLP scan of each
           message (bench/floor_milter.py): no policy, record, metrics or log line
  floor-dkim  floor plus a DKIM signature (rsa-sha256, a 2048-bit key made for the run,
           From shop.example) inserted at the top: the floor for the DKIM-on target
  privacy  privacy-milter run --policy P --socket unix:S --store DB
  privacy@REV  the same, from the sources of git revision REV (bench/revsrc.py): before/after
           in one interleaved run

    .venv/bin/python bench/throughput.py                       # all four, 2000 msgs, 20 conns
    .venv/bin/python bench/throughput.py --milter noop -n 500 -c 10
    .venv/bin/python bench/throughput.py -n 600 -c 20 -r 3     # three interleaved rounds (rotated), medians
    .venv/bin/python bench/throughput.py --milter none,privacy@HEAD~3,privacy -r 3   # A/B

Besides msg/s it reports the milter process's own CPU time per message (user + system, all
threads, from /proc) over the timed part of each run.

Root only (it starts Postfix). Every wait is bounded; a configuration that fails prints its
error and the others still run. Exit status 1 if any configuration failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.revsrc import RevisionError, export_sources  # noqa: E402
from tests.harness.milter_process import MilterProcess  # noqa: E402
from tests.harness.noop_milter import FloorMilterProcess, NoopMilterProcess, floor_key  # noqa: E402
from tests.harness.postfix import PostfixInstance  # noqa: E402
from tests.harness.sink import Sink  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
PRIVACY_MILTER = VENV_BIN / "privacy-milter"
CONFIGS = ("none", "noop", "listen", "privacy")
EXTRA_CONFIGS = ("floor", "floor-dkim")  # not in the default set: run them by name
BENCH_POLICY = '# written by bench/throughput.py\n[network]\ntrusted_networks = ["127.0.0.0/8"]\n'

BODY = (
    "Hello Bob,\n\nthe minutes of Tuesday's meeting are below. Please check the action items\n"
    "and let me know by Friday whether the dates work for your team.\n\n"
    + "".join(f"{i}. Item {i}: review the draft, update the schedule, confirm with the supplier.\n"
              for i in range(1, 25))
    + "\nThanks,\nAlice\n"
)


class BenchError(RuntimeError):
    pass


@dataclass
class Result:
    config: str
    messages: int
    seconds: float | None
    error: str | None = None
    milter_cpu: float | None = None  # the milter process's own user+sys CPU seconds, timed part only

    @property
    def rate(self) -> float | None:
        return self.messages / self.seconds if self.seconds else None


def make_message(i: int) -> bytes:
    m = EmailMessage()
    m["From"], m["To"] = "Alice <alice@shop.example>", "Bob <bob@far.example>"
    m["Subject"] = f"Minutes, part {i}"
    m["Message-ID"] = f"<bench-{i}@shop.example>"
    m.set_content(BODY)
    return m.as_bytes()


def privacy_milter(workdir: Path, policy: Path | None, env: dict[str, str] | None = None) -> MilterProcess:
    """`privacy-milter run` (tests/harness/milter_process.py, the one launcher): `policy` as it
    is with --socket and --store, or a bench policy (everything else at its default, the TLS
    policy service included, the log in a file as on a server)."""
    if not os.access(PRIVACY_MILTER, os.X_OK):
        raise BenchError(f"{PRIVACY_MILTER} not found: install the project (make test) first")
    log = workdir / "privacy" / "milter.log"
    return MilterProcess(workdir / "privacy", BENCH_POLICY + f'[log]\nfile = "{log}"\n', tls_policy="",
                         flush_interval=0.2, env=env, policy_file=policy,
                         host_name="bench.privacy-milter.test")  # a bench host has no Postfix main.cf


def send_all(port: int, total: int, connections: int, deadline: float) -> list[BaseException]:
    """Send `total` messages over `connections` concurrent SMTP sessions; return the errors."""
    errors: list[BaseException] = []
    payloads = [make_message(i) for i in range(total)]

    def worker(k: int) -> None:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
                client.ehlo("bench.test")
                for i in range(k, total, connections):
                    if time.monotonic() > deadline:
                        raise BenchError("deadline passed while sending")
                    client.sendmail("alice@shop.example", ["bob@far.example"], payloads[i])
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        errors.append(BenchError("senders still running at the deadline"))
    return errors


def run_config(config: str, total: int, connections: int, timeout: float, policy: Path | None,
               keep: bool, profile: Path | None = None, envs: dict[str, dict[str, str]] | None = None) -> Result:
    workdir = Path(tempfile.mkdtemp(prefix=f"pm-bench-{config.replace('@', '-').replace('/', '-')}-"))
    os.chmod(workdir, 0o755)  # Postfix (user postfix) must reach the milter socket
    milter: NoopMilterProcess | MilterProcess | None = None
    postfix: PostfixInstance | None = None
    try:
        with Sink() as sink:
            if config in ("noop", "listen"):
                milter = NoopMilterProcess(workdir / "noop.sock", python=sys.executable,
                                           listen=config == "listen").start()
            elif config in EXTRA_CONFIGS:
                key = floor_key(workdir) if config == "floor-dkim" else None
                milter = FloorMilterProcess(workdir / "floor.sock", key).start()
            elif config == "privacy" or config.startswith("privacy@"):
                milter = privacy_milter(workdir, policy, (envs or {}).get(config)).start()
            postfix = PostfixInstance(workdir / "postfix", relay_port=sink.port,
                                      milter=milter.spec if milter else None,
                                      mynetworks="127.0.0.0/8").start()
            deadline = time.monotonic() + timeout
            # warm-up: one message per connection, so every process is forked and connected
            errors = send_all(postfix.smtpd_port, connections, connections, deadline)
            if errors:
                raise BenchError(f"warm-up failed: {errors[0]!r}")
            sink.wait_for(connections, timeout=max(1.0, deadline - time.monotonic()))
            sink.clear()

            pid = milter.proc.pid if milter is not None and milter.proc is not None else None
            cpu_before = process_cpu(pid)
            spy = start_profile(pid, profile, config) if profile is not None else None
            start = time.monotonic()
            errors = send_all(postfix.smtpd_port, total, connections, deadline)
            if errors:
                raise BenchError(f"{len(errors)} sender error(s), first: {errors[0]!r}")
            received = sink.wait_for(total, timeout=max(1.0, deadline - time.monotonic()))
            seconds = time.monotonic() - start
            cpu_after = process_cpu(pid)
            signed = sum(1 for m in received if m.raw.startswith(b"DKIM-Signature:"))
            if signed or config == "floor-dkim":
                print(f"# {config}: {signed} of {len(received)} messages arrived with a DKIM-Signature on top",
                      file=sys.stderr)
            if config == "floor-dkim" and signed < len(received):
                raise BenchError("the floor milter did not sign every message")
            if spy is not None:
                spy.send_signal(signal.SIGINT)
                spy.wait(30)
            cpu = cpu_after - cpu_before if cpu_after is not None and cpu_before is not None else None
            return Result(config, total, seconds, milter_cpu=cpu)
    except (BenchError, AssertionError, OSError, RuntimeError, smtplib.SMTPException) as exc:
        extra = ""
        if isinstance(milter, MilterProcess):
            extra = "\n" + milter.log()[-3000:]
        return Result(config, total, None, f"{exc}{extra}")
    finally:
        if postfix is not None:
            postfix.stop()
        if milter is not None:
            milter.stop()
        if keep:
            print(f"# {config}: kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def start_profile(pid: int | None, out: Path, config: str) -> subprocess.Popen[bytes] | None:
    """py-spy (from PyPI) sampling the milter for the timed part, collapsed stacks to a file."""
    if pid is None:
        return None
    target = out.with_name(f"{out.stem}-{config}{out.suffix or '.txt'}")
    proc = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "-p", str(pid), "-r", "250", "-f", "raw",
                             "-o", str(target), "--nonblocking"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1.0)  # let it attach
    print(f"# {config}: profiling into {target}", file=sys.stderr)
    return proc


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of one process (all its threads), from /proc."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def rounds_table(rounds: list[list[Result]]) -> str:
    """Per configuration: msg/s per round, the median, its ratio to Postfix alone in the same
    round (median of the per-round ratios), and the milter's CPU per message."""
    configs = [r.config for r in rounds[0]]
    lines = ["| config | msg/s per round | median msg/s | x Postfix alone (median of rounds) | milter CPU ms/msg (median) |",
             "|---|---|---:|---:|---:|"]
    for config in configs:
        rates, ratios, cpus = [], [], []
        for results in rounds:
            mine = next(r for r in results if r.config == config)
            base = next((r.rate for r in results if r.config == "none" and r.rate), None)
            if mine.rate:
                rates.append(mine.rate)
                if base:
                    ratios.append(mine.rate / base)
            if mine.milter_cpu is not None:
                cpus.append(1000 * mine.milter_cpu / mine.messages)
        lines.append(f"| {config} | {', '.join(f'{r:.0f}' for r in rates) or 'failed'} | "
                     f"{median(rates):.0f} | " if rates else f"| {config} | failed | - | ")
        lines[-1] += (f"{median(ratios):.2f} | " if ratios else "- | ") + (f"{median(cpus):.2f} |" if cpus else "- |")
    return "\n".join(lines)


def table(results: list[Result]) -> str:
    base = next((r.rate for r in results if r.config == "none" and r.rate), None)
    lines = ["| config | msgs | seconds | msg/s | % of Postfix alone | milter CPU ms/msg |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in results:
        if r.rate is None:
            lines.append(f"| {r.config} | {r.messages} | - | - | failed | - |")
            continue
        pct = f"{100 * r.rate / base:.0f} %" if base else "-"
        cpu = f"{1000 * r.milter_cpu / r.messages:.2f}" if r.milter_cpu is not None else "-"
        lines.append(f"| {r.config} | {r.messages} | {r.seconds:.2f} | {r.rate:.0f} | {pct} | {cpu} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--milter", default=",".join(CONFIGS),
                    help="comma-separated configurations out of none,noop,listen,floor,floor-dkim,privacy,privacy@REV "
                    "(default: none,noop,listen,privacy)")
    ap.add_argument("-n", "--messages", type=int, default=2000)
    ap.add_argument("-c", "--connections", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per configuration (default 300)")
    ap.add_argument("--policy", type=Path, help="policy for privacy-milter (default: a minimal one written here)")
    ap.add_argument("--keep", action="store_true", help="keep the work directories")
    ap.add_argument("--profile", type=Path, help="py-spy the milter during the timed part; collapsed stacks "
                    "to FILE-CONFIG.txt (needs py-spy in the venv)")
    ap.add_argument("-r", "--rounds", type=int, default=1,
                    help="interleaved rounds, each starting one configuration later (none, listen, privacy; "
                    "listen, privacy, none; ...); medians and ratios per round")
    args = ap.parse_args(argv)
    configs = [c.strip() for c in args.milter.split(",") if c.strip()]
    if unknown := [c for c in configs if c not in CONFIGS + EXTRA_CONFIGS and not c.startswith("privacy@")]:
        ap.error(f"unknown configuration(s): {', '.join(unknown)}")
    if os.geteuid() != 0:
        ap.error("must run as root (it starts Postfix)")
    sources = Path(tempfile.mkdtemp(prefix="pm-bench-src-"))
    try:
        return run_rounds(args, configs, sources)
    finally:
        shutil.rmtree(sources, ignore_errors=True)


def run_rounds(args: argparse.Namespace, configs: list[str], sources: Path) -> int:
    envs: dict[str, dict[str, str]] = {}
    for config in configs:
        if config.startswith("privacy@"):
            try:
                envs[config], sha = export_sources(config.split("@", 1)[1], sources / str(len(envs)))
            except RevisionError as exc:
                print(f"# {config}: {exc}", file=sys.stderr)
                return 2
            print(f"# {config}: sources of commit {sha}", file=sys.stderr)
    rounds: list[list[Result]] = []
    for n in range(max(1, args.rounds)):
        results = []
        # Each round starts one configuration later: in a fixed order the last one ran
        # behind the others every round, and on a noisy host that alone moved its CPU per
        # message by ~10 % (see BENCHMARKS, 2026-12-07). The tables keep the given order.
        for config in configs[n % len(configs):] + configs[:n % len(configs)]:
            print(f"# round {n + 1}: {config}: {args.messages} messages over {args.connections} connections ...",
                  file=sys.stderr)
            r = run_config(config, args.messages, args.connections, args.timeout, args.policy, args.keep,
                           args.profile, envs)
            if r.error:
                print(f"# {config} FAILED: {r.error}", file=sys.stderr)
            results.append(r)
        results.sort(key=lambda r: configs.index(r.config))
        rounds.append(results)
        print(table(results), flush=True)
    if len(rounds) > 1:
        print()
        print(rounds_table(rounds))
    return 1 if any(r.error for results in rounds for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
