#!/usr/bin/env python3
"""CPU per message of the daemon's own path, without Postfix: pymilter's TestCtx drives the
real adapter, runtime (its loop thread, store and log line) and default filters.

    .venv/bin/python bench/milter_path.py -n 3000            # CPU ms per message, all threads
    .venv/bin/python bench/milter_path.py -n 3000 --profile  # and a cProfile of the callbacks
    .venv/bin/python bench/milter_path.py -n 1000 --ab srcfile --blocks 8   # a fast path on/off,
        # alternating blocks of -n messages in one process: logging._srcfile None against
        # logging's own (the caller's file and line looked up per record); formatter =
        # reopen (measured at 05fd7dc, then removed with the shortcut) = the log file's rotation
        # check once a second against WatchedFileHandler's stat() per line;
        # logsetup.LineFormatter against logging.Formatter (the hand-written one measured at 7fe830e,
        # then replaced by the plain formatter). `--ab light` (the
        # daemon's lighter wiring for collecting steps) was measured at 77b54b2 and removed.
    valgrind --tool=callgrind --separate-threads=yes .venv/bin/python bench/milter_path.py \
        -n 2000 --flush-interval 60 --batch-size 100       # instructions (minus an -n 200 run)

--flush-interval/--batch-size set the store's batching: under valgrind's slow clock the
default (0.2 s) makes how records fall into batches, and so the writer thread's count, vary
from run to run; 60 s and 100 records make it the same every run.

It isolates what privacy-milter adds per message from Postfix and the network; the
throughput benchmark (bench/throughput.py) measures the whole.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import Milter  # noqa: E402
from Milter import testctx  # noqa: E402

from bench.throughput import make_message  # noqa: E402
from privacy_milter import policy as policy_mod  # noqa: E402
from privacy_milter.adapter import MilterAdapter  # noqa: E402
from privacy_milter.loopthread import LoopThread  # noqa: E402
from privacy_milter.runtime import Runtime  # noqa: E402

MACROS = {"{client_addr}": "127.0.0.1", "{daemon_name}": "smtpd", "{daemon_port}": "25",
          "{rcpt_mailer}": "smtp", "{rcpt_host}": "far.example", "i": "4BENCH"}


class Ctx(testctx.TestCtx):
    def addheader(self, field: str, value: str, idx: int = -1) -> int:
        return Milter.CONTINUE


def split(raw: bytes) -> tuple[list[tuple[str, bytes]], bytes]:
    head, _, body = raw.partition(b"\n\n")
    headers: list[tuple[str, bytes]] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1] = (headers[-1][0], headers[-1][1] + b"\n" + line)
        else:
            name, _, value = line.partition(b":")
            headers.append((name.decode(), value))
    return headers, body.replace(b"\n", b"\r\n")


def one(ctx: Ctx, headers: list[tuple[str, bytes]], body: bytes) -> int:
    ctx._envfrom("<alice@shop.example>")
    ctx._envrcpt("<bob@far.example>")
    for name, value in headers:
        ctx._priv.header_bytes(name, value)
    ctx._priv.body(body)
    return ctx._eom()


def formatter_setups() -> dict[str, Callable[[], None]]:
    """logsetup.LineFormatter against logging.Formatter with the same format, the tag put on
    each record by a filter (what LineFormatter does in one f-string)."""
    import logging
    import socket

    from privacy_milter.logcontext import line_tag
    from privacy_milter.logsetup import DATEFMT, FILE_FORMAT

    handler = logging.getLogger().handlers[0]
    ours = handler.formatter
    plain = logging.Formatter(FILE_FORMAT.replace("{host}", socket.gethostname()), datefmt=DATEFMT)

    def tag(record: logging.LogRecord) -> bool:
        record.tag = line_tag(record.getMessage())
        return True

    def use(formatter: logging.Formatter | None, with_filter: bool) -> None:
        handler.setFormatter(formatter)
        handler.removeFilter(tag)
        if with_filter:
            handler.addFilter(tag)
    return {"LineFormatter (now)": lambda: use(ours, False), "logging.Formatter": lambda: use(plain, True)}


def ab(args: argparse.Namespace, runtime: Runtime, ctx: Ctx, headers: list[tuple[str, bytes]],
       body: bytes) -> None:
    """Alternating blocks, A first then B first (an order bias cancels), CPU ms per message."""
    import logging
    import statistics

    if args.ab == "formatter":
        variants = {"LineFormatter (now)": one, "logging.Formatter": one}
        setups = formatter_setups()
    else:
        srcfile = getattr(logging, "_srcfile", None) or logging.__file__
        variants = {"_srcfile None": one, "logging's default": one}
        setups = {"_srcfile None": lambda: setattr(logging, "_srcfile", None),
                  "logging's default": lambda: setattr(logging, "_srcfile", srcfile)}
    times: dict[str, list[float]] = {k: [] for k in variants}
    names = list(variants)
    for block in range(args.blocks):
        for name in names if block % 2 == 0 else names[::-1]:
            setups[name]()
            cpu = time.process_time()
            for _ in range(args.messages):
                assert variants[name](ctx, headers, body) == Milter.ACCEPT
            times[name].append(1000 * (time.process_time() - cpu) / args.messages)
    base = statistics.median(times[names[1]])
    for name in names:
        med = statistics.median(times[name])
        print(f"{name:22} CPU ms/msg per block {', '.join(f'{t:.3f}' for t in times[name])}; "
              f"median {med:.3f} ({100 * (med / base - 1):+.1f} % against {names[1]})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--messages", type=int, default=3000)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--log-level", default="info")
    ap.add_argument("--flush-interval", type=float, help="[store] flush_interval (default: the policy's)")
    ap.add_argument("--batch-size", type=int, help="[store] batch_size (default: the policy's)")
    ap.add_argument("--ab", choices=("srcfile", "formatter"), help="a fast path on and off, alternating blocks")
    ap.add_argument("--blocks", type=int, default=8, help="with --ab: blocks of -n messages (half each)")
    ap.add_argument("--extra", default="", help="TOML appended to the bench policy, e.g. '[pipeline]\nfilters = []'")
    args = ap.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="pm-path-"))
    path = work / "policy.toml"
    # host_name: a bench host may have no Postfix main.cf to name it (hostname.py refuses to guess)
    store = f'path = "{work}/m.db"\nkey_file = "{work}/k"\nhost_name = "bench.privacy-milter.test"\n'
    if args.flush_interval is not None:
        store += f"flush_interval = {args.flush_interval}\n"
    if args.batch_size is not None:
        store += f"batch_size = {args.batch_size}\n"
    path.write_text(f'[log]\nfile = "{work}/log"\nlevel = "{args.log_level}"\n[store]\n{store}'
                    '[tls_policy]\nenabled = false\n[network]\ntrusted_networks = ["127.0.0.0/8"]\n'
                    + args.extra.replace("\\n", "\n") + "\n")
    from privacy_milter.logsetup import configure_logging
    policy = policy_mod.load(path)
    configure_logging(policy.log)
    loop = LoopThread()
    loop.start()
    runtime = loop.run(Runtime.start(policy, watch=False), 30)
    runtime.attach(loop)
    Milter.factory = lambda: MilterAdapter(runtime)
    ctx = Ctx()
    for k, v in MACROS.items():
        ctx._setsymval(k, v)
    ctx._connect()
    headers, body = split(make_message(1))
    for _ in range(200):  # warm-up
        one(ctx, headers, body)
    if args.ab:
        ab(args, runtime, ctx, headers, body)
        loop.run(runtime.stop(), 30)
        loop.stop()
        shutil.rmtree(work, ignore_errors=True)
        return 0
    profiler = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for _ in range(args.messages):
        assert one(ctx, headers, body) == Milter.ACCEPT
    if profiler:
        profiler.disable()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    loop.run(runtime.stop(), 30)
    loop.stop()
    shutil.rmtree(work, ignore_errors=True)
    print(f"{args.messages} messages of {len(body)} body bytes: {1000 * cpu / args.messages:.3f} ms CPU "
          f"(all threads) and {1000 * wall / args.messages:.3f} ms wall per message")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
    return 0


if __name__ == "__main__":
    sys.exit(main())
