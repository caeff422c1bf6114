"""`privacy-milter dkim keygen DOMAIN SELECTOR` and `privacy-milter dkim check [DOMAIN]`.

Plain functions over parsed arguments, settings and a resolver, returning an exit code and
writing to a stream, so the main CLI wires them and tests drive them without a process.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO, cast

from privacy_milter.plugin import Command, CommandEnv
from privacy_milter.services import DnsTxt

from .dns import TxtResolver
from .keys import Algorithm, CheckResult, KeyProblem, SigningKey, check, keygen, zone_line
from .settings import DEFAULT_DOMAIN, DkimSettings

DEFAULT_KEY_DIR = Path("/etc/privacy-milter/dkim")
_ALGORITHM = {"rsa": "rsa-sha256", "ed25519": "ed25519-sha256"}


def add_arguments(dkim_parser: argparse.ArgumentParser, policy_help: str = "policy file") -> None:
    """Add `keygen` and `check` under an existing `dkim` sub-command parser."""
    sub = dkim_parser.add_subparsers(dest="dkim_command", required=True)
    gen = sub.add_parser("keygen", help="write a new private key and print the DNS record to publish")
    gen.add_argument("domain")
    gen.add_argument("selector")
    gen.add_argument("--algorithm", choices=sorted(_ALGORITHM), default="rsa")
    gen.add_argument("--dir", type=Path, default=DEFAULT_KEY_DIR)
    chk = sub.add_parser("check", help="say whether each configured selector's DNS record matches its key")
    chk.add_argument("domain", nargs="?")
    chk.add_argument("--policy", type=Path, help=policy_help)


def keygen_command(args: argparse.Namespace, out: TextIO) -> int:
    algorithm = cast(Algorithm, _ALGORITHM[args.algorithm])
    domain = args.domain.lower().rstrip(".")
    try:
        path, record = keygen(domain, args.selector, algorithm, Path(args.dir))
    except KeyProblem as exc:
        out.write(f"error: {exc}\n")
        return 1
    out.write(f"Wrote {path} (mode 0600). It must belong to the user the daemon runs as.\n\n"
              f"1. Publish this TXT record in the DNS of {domain}:\n\n"
              f"   {zone_line(domain, args.selector, record)}\n\n"
              f"   (the record text: {record})\n\n"
              f"2. Add to policy.toml, with active = false until the record is published:\n\n"
              f'   [filters.dkim.keys."{domain}"]\n'
              f'   "{args.selector}" = {{ key_file = "{path}", algorithm = "{algorithm}", active = false }}\n\n'
              f"3. Run `privacy-milter dkim check {domain}`; when it says published, drop\n"
              f"   `active = false` and reload.\n")
    return 0


def _targets(settings: DkimSettings, domain: str | None,
             hosted: Iterable[str]) -> list[tuple[str, SigningKey]]:
    if domain:
        domain = domain.lower().rstrip(".")
        table = settings.keys.get(domain) or settings.keys.get(DEFAULT_DOMAIN, ())
        return [(domain, key) for key in table]
    pairs = [(d, key) for d, table in sorted(settings.keys.items()) if d != DEFAULT_DOMAIN for key in table]
    for d in sorted(set(hosted) - set(settings.keys)):
        pairs.extend((d, key) for key in settings.keys.get(DEFAULT_DOMAIN, ()))
    return pairs


def _line(result: CheckResult, key: SigningKey) -> str:
    word = {"published": "ok", "missing": "MISSING", "mismatch": "MISMATCH", "dns_error": "DNS ERROR"}
    state = "" if key.active else " (not active yet)"
    return (f"{word[result.status]:9} {result.domain} selector {result.selector} "
            f"{key.algorithm}{state}: {result.detail}\n")


async def check_async(args: argparse.Namespace, settings: DkimSettings, resolver: TxtResolver,
                      out: TextIO, hosted: Iterable[str] = ()) -> int:
    """0 when every configured selector's record is published and matches its key, else 1."""
    targets = _targets(settings, getattr(args, "domain", None), hosted)
    if not targets:
        out.write("no DKIM keys configured for this domain ([filters.dkim.keys] in policy.toml)\n")
        return 1
    results = await asyncio.gather(*(check(d, key.selector, key, resolver, settings.dns_timeout)
                                     for d, key in targets))
    for result, (_, key) in zip(results, targets):
        out.write(_line(result, key))
    return 0 if all(r.ready for r in results) else 1


def check_command(args: argparse.Namespace, settings: DkimSettings, resolver: TxtResolver,
                  out: TextIO, hosted: Iterable[str] = ()) -> int:
    """check_async for a caller without a running event loop."""
    return asyncio.run(check_async(args, settings, resolver, out, hosted))


def _add_command(dkim_parser: argparse.ArgumentParser, env: CommandEnv) -> None:
    add_arguments(dkim_parser, policy_help=f"policy file (default {env.default_policy} if it exists)")


def run(args: argparse.Namespace, env: CommandEnv) -> int:
    """`privacy-milter dkim keygen|check`: keygen needs no policy; check reads [filters.dkim]."""
    if args.dkim_command == "keygen":
        return keygen_command(args, env.out)
    site = env.load_site(args.policy)
    settings = site.settings("dkim")
    assert isinstance(settings, DkimSettings)
    ns = settings.nameserver
    timeout = settings.dns_timeout
    resolver = DnsTxt(ns[0], ns[1], timeout) if ns else DnsTxt(timeout=timeout)
    return check_command(args, settings, resolver, env.out, hosted=site.network.hosted_domains)


COMMAND = Command("dkim", "DKIM keys: keygen writes a key and prints its DNS record; check compares each "
                          "configured selector's record with its key", _add_command, run)
