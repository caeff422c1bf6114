"""The `privacy-milter` command: run, policy check, scan, stats, subject, purge, dkim."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import policy as policy_mod
from .errors import PolicyError, PrivacyMilterError, StoreError
from .plugin import Command, CommandEnv
from .policy import Policy
from .policy import Overrides

DEFAULT_POLICY = Path("/etc/privacy-milter/policy.toml")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["tls-query"]:  # its own parser, options and all
        from .tlspolicy.query import main as query_main

        return query_main(argv[1:])
    # `run` must block signals before anything that may start threads is imported (the
    # filters are imported by their daemon, after): its parser leaves the filters' commands out.
    parser = _parser(with_filter_commands=argv[:1] != ["run"])
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 64
    try:
        return int(args.handler(args))
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 78
    except PrivacyMilterError as exc:
        print(f"privacy-milter: {exc}", file=sys.stderr)
        return 69
    except KeyboardInterrupt:
        return 130


def _parser(with_filter_commands: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="privacy-milter", description=__doc__)
    sub = p.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", help="run the milter daemon")
    run.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default %(default)s)")
    run.add_argument("--socket", help="socket, overrides [milter] socket: unix:/path or inet:PORT@HOST")
    run.add_argument("--store", type=Path, help="store file, overrides [store] path")
    run.add_argument("--host-name", metavar="NAME",
                     help="this host's name, overrides [store] host_name (default: Postfix's myhostname)")
    run.set_defaults(handler=_run)

    pol = sub.add_parser("policy", help="policy file tools")
    pol_sub = pol.add_subparsers(metavar="ACTION")
    check = pol_sub.add_parser("check", help="validate a policy file: exit 0 if valid, 1 listing every problem")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=_policy_check)

    scan = sub.add_parser("scan", help="run the content checks offline on .eml files or directories")
    scan.add_argument("--policy", type=Path, help="policy file (default: built-in defaults)")
    scan.add_argument("--json", action="store_true", help="one JSON object per message per line")
    scan.add_argument("--explain", action="store_true",
                      help="per finding: rule symbol, confidence, part, line and the value masked")
    scan.add_argument("--jobs", "-j", type=_jobs, metavar="N",
                      help="processes to scan with (default: one per CPU, up to 8, for 64 files or "
                           "more; 1 leaves the other CPUs to Postfix)")
    scan.add_argument("paths", nargs="+", type=Path)
    scan.set_defaults(handler=_scan)

    stats = sub.add_parser("stats", help="counts from the metadata store")
    _store_args(stats)
    stats.add_argument("--days", type=float, help="only the last N days")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=_stats)

    subject = sub.add_parser("subject", help="subject-access requests: export or delete one person's records")
    subject.add_argument("action", choices=("export", "delete"))
    subject.add_argument("address", help="the person's email address")
    _store_args(subject)
    subject.set_defaults(handler=_subject)

    sub.add_parser("tls-query", add_help=False,
                   help="show the outbound TLS policy Postfix would get for a domain (see tls-query --help)")

    store = sub.add_parser("store", help="store tools")
    store_sub = store.add_subparsers(metavar="ACTION")
    mig = store_sub.add_parser("migrate", help="copy a single-host SQLite store into PostgreSQL (runs again safely)")
    mig.add_argument("--from", dest="source", required=True, metavar="sqlite:PATH")
    mig.add_argument("--to", dest="dest", required=True, metavar="postgresql:CONNINFO",
                     help="libpq conninfo without a password (use passfile=...)")
    mig.add_argument("--host", help="host name for records that have none (default: Postfix's myhostname)")
    mig.set_defaults(handler=_store_migrate)

    purge = sub.add_parser("purge", help="delete records older than the retention window now")
    _store_args(purge)
    purge.set_defaults(handler=_purge)

    _postfix_setup_parser(sub)
    if with_filter_commands:
        _filter_commands(sub)
        _mta_sts_parser(sub)  # not for `run` either: it imports the HTTPS and DNS clients
    summary = sub.add_parser("summary", help="the weekly summary email: preview, write as HTML, or send now")
    _store_args(summary)
    what = summary.add_mutually_exclusive_group(required=True)
    what.add_argument("--preview", action="store_true", help="print the text part")
    what.add_argument("--html", type=Path, metavar="FILE", help="write the HTML part, its charts beside it")
    what.add_argument("--send", action="store_true", help="send it now to [summary] recipients")
    summary.add_argument("--week", help="an ISO week such as 2026-W48 (default: the last complete week)")
    summary.set_defaults(handler=_summary)

    from .doctor import add_parser as add_doctor  # checks the whole set-up: doctor/__init__.py
    add_doctor(sub)
    from .quarantine.command import add_parser as quarantine_parser  # issue 27: held mail

    quarantine_parser(sub, _store_args, _with_store)
    return p


def _postfix_setup_parser(sub: Any) -> None:
    from . import postfix_setup

    setup = sub.add_parser("postfix-setup", help="print (or --apply, --undo) the main.cf/master.cf "
                                                 "lines that attach privacy-milter to Postfix")
    postfix_setup.add_arguments(setup)
    setup.set_defaults(handler=postfix_setup.run)


def _filter_commands(sub: Any) -> None:
    """The subcommands filters declare (FilterSpec.commands: `dkim keygen`), in registry order."""
    for spec in _filters().values():
        for command in spec.commands:
            parser = sub.add_parser(command.name, help=command.help)
            command.add_arguments(parser, _command_env())
            parser.set_defaults(handler=functools.partial(_filter_command, command))


def _command_env() -> CommandEnv:
    return CommandEnv(load_site=lambda path: _policy_for(path).site, out=sys.stdout, default_policy=DEFAULT_POLICY)


def _filter_command(command: Command, args: argparse.Namespace) -> int:
    return command.run(args, _command_env())


def _mta_sts_parser(sub: Any) -> None:
    from .mtasts_publish.command import add_arguments

    add_arguments(sub, policy_help=f"policy file (default {DEFAULT_POLICY} if it exists)")
    sub.choices["mta-sts"].set_defaults(handler=_mta_sts)


def _mta_sts(args: argparse.Namespace) -> int:
    from .mtasts_publish.command import run

    return run(_policy_for(Path(args.policy) if args.policy else None), args.mta_sts_action, args.domain)


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--policy", type=Path, help=f"policy file (default {DEFAULT_POLICY} if it exists)")
    p.add_argument("--store", type=Path, help="store file, overrides [store] path")


def _policy_for(path: Path | None) -> Policy:
    if path is None:
        return policy_mod.load(DEFAULT_POLICY, _filters()) if DEFAULT_POLICY.exists() else policy_mod.default(_filters())
    return policy_mod.load(path, _filters())


def _filters() -> policy_mod.Filters:
    from .registry import FILTERS  # the filters' modules: only for the commands that read a policy

    return FILTERS


# --- handlers ------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    # Signals first, before anything is imported that may start threads of its own (a
    # native library's worker pool), so every thread inherits the daemon's mask.
    from . import signals

    signals.prepare()
    from .daemon import run  # imports libmilter: only for the daemon

    return run(args.policy, Overrides(socket=args.socket, store=args.store, host_name=args.host_name))


def _policy_check(args: argparse.Namespace) -> int:
    try:
        p = policy_mod.load(args.file, _filters())
    except PolicyError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{args.file}: INVALID ({len(exc.problems)} problem(s))", file=sys.stderr)
        return 1
    from .hostname import HostNameError, resolve
    from .policy_sections import smtp_warnings

    for warning in policy_mod.milter_socket_warnings(p.milter) + smtp_warnings(p.smtp) + _safety_warnings(p):
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    try:  # the daemon refuses to start without it: say so here, before a restart does
        host = resolve(p.store.host_name)
    except HostNameError as exc:
        print(f"{args.file}: the daemon would not start: {exc}", file=sys.stderr)
        return 1
    print(f"{args.file}: OK (host {host}; filters: {', '.join(p.filters) or 'none'}; "
          f"retention {p.store.retention_days} days; {len(p.customers)} customer override(s))")
    return 0


def _safety_warnings(p: Policy) -> list[str]:
    """Valid settings that would break a promise on this host: a pipeline whose flagged
    mail has no route; a [tls_policy] resolver that does not answer (or, with DANE, does
    not validate). The resolver is asked once, bounded (tlspolicy.health)."""
    from .plugin import policy_warnings
    from .registry import FILTERS

    found = policy_warnings(FILTERS.values(), p.site)
    if p.tls_policy.enabled:
        from .tlspolicy.health import resolver_warning

        if (warning := asyncio.run(resolver_warning(p.tls_policy.config))) is not None:
            found.append(warning)
    return found


MAX_JOBS = 64


def _jobs(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 1 <= n <= MAX_JOBS:
        raise argparse.ArgumentTypeError(f"{n} is not between 1 and {MAX_JOBS}")
    return n


def _scan(args: argparse.Namespace) -> int:
    from .scan import eml_files, scan_files

    policy = _policy_for(args.policy)  # a bad policy is reported here, once, not by each worker
    if args.explain:
        from .scan import explain_files
        return explain_files(list(eml_files(args.paths)), policy, specs=_filters().values())
    loader = functools.partial(_policy_for, args.policy)
    return scan_files(list(eml_files(args.paths)), loader, args.json, workers=args.jobs)


def _with_store(args: argparse.Namespace, work: Any, *, check_key: bool = False) -> Any:
    """Open the store the policy names. With check_key (subject requests), the address key
    must be the one the store was created with, or no record of the person would be found."""
    from .store import AddressHasher, open_store

    policy = Overrides(store=args.store).apply(_policy_for(args.policy))
    if policy.store.backend == "sqlite" and not policy.store.path.exists():
        raise StoreError(f"no store at {policy.store.path}: check [store] path in the policy, or --store")

    async def go() -> Any:
        hasher = AddressHasher.from_file(policy.store.key_file) if check_key else None
        store = open_store(policy.store, hasher)
        await store.setup()
        try:
            return await work(store, policy, lambda: hasher or AddressHasher.from_file(policy.store.key_file))
        finally:
            await store.close()

    return asyncio.run(go())


def _stats(args: argparse.Namespace) -> int:
    since = time.time() - args.days * 86400 if args.days else None
    stats = _with_store(args, lambda store, _p, _h: store.stats(since))
    counts = stats.as_dict()
    if args.json:
        print(json.dumps(counts, sort_keys=True))
    else:
        print(f"messages: {counts['messages']} ({counts['bytes']} bytes)")
        for key in ("direction", "action", "tls_version", "messages_with_findings"):
            values = ", ".join(f"{k}={v}" for k, v in sorted(counts[key].items())) or "none"
            print(f"{key.replace('_', ' ')}: {values}")
        if len(stats.hosts) > 1:  # a store several hosts share: a line per host
            print("hosts: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.hosts.items())))
        from .store.health import describe

        print(describe(counts.get("store")))
    return 0


def _subject(args: argparse.Namespace) -> int:
    from .quarantine.command import subject_held

    async def work(store: Any, policy: Policy, hasher: Any) -> Any:
        h = hasher()(args.address)
        # The hold queue first: its messages are found by their records, which delete removes.
        held = await subject_held(store, policy, args.address, delete=args.action == "delete")
        if args.action == "export":
            return await store.find_address(h), held
        return await store.forget_address(h), held

    result, held = _with_store(args, work, check_key=True)
    if args.action == "export":
        records = [dataclasses.asdict(r) for r in result]
        print(json.dumps({"address": args.address, "records": records, "held": held}, indent=2, default=str))
    else:
        print(f"deleted {result} record(s) involving {args.address}")
        print(_held_line(held))
    return 0 if "problem" not in held or not held["held"] else 1


def _held_line(held: dict[str, Any]) -> str:
    """What subject delete did to the hold queue (issue 27)."""
    if not held["checked"]:
        return f"hold queue not checked: {held['problem']}"
    if "problem" in held:
        return f"hold queue: NOT deleted: {held['problem']}: {' '.join(held['held'])}"
    ids = " ".join(held["deleted"])
    return f"deleted {len(held['deleted'])} held message(s) from the hold queue" + (f": {ids}" if ids else "")


def _store_migrate(args: argparse.Namespace) -> int:
    from .store.migrate import migrate

    copied = asyncio.run(migrate(args.source, args.dest, args.host))
    print(f"copied {copied} record(s)")
    return 0


def _purge(args: argparse.Namespace) -> int:
    async def work(store: Any, policy: Policy, _h: Any) -> int:
        return int(await store.purge(time.time() - policy.store.retention_days * 86400))

    removed = _with_store(args, work)
    print(f"removed {removed} record(s) older than the retention window")
    return 0


def _summary(args: argparse.Namespace) -> int:
    from .summary.command import run

    policy = Overrides(store=args.store).apply(_policy_for(args.policy))
    return run(policy, preview=args.preview, html=args.html, send=args.send, week=args.week)


if __name__ == "__main__":
    sys.exit(main())
