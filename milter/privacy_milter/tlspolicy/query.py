"""`privacy-milter tls-query [--policy FILE] DOMAIN...`: ask what the socketmap service would answer.

With --policy, the answer comes from the same [tls_policy] settings as the daemon's (pins,
resolver, MTA-STS CA file and servername, probe settings); --nameserver, --port and
--timeout, when given, override them. It uses the daemon's resolver code with its own,
empty MTA-STS cache, so an admin can check a destination without Postfix: the socketmap
answer, where it came from, and with --classify the TLS class a flagged message would get.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from collections.abc import Sequence

from privacy_milter.errors import PolicyError
from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import DecisionFailed, LookupTempError
from privacy_milter.tlspolicy.service import TlsPolicyService


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privacy-milter tls-query",
                                     description="Show the outbound TLS policy Postfix would get for a next hop.")
    parser.add_argument("keys", nargs="+", metavar="DOMAIN",
                        help="next-hop as Postfix asks: example.com, [mx.example.com]:587, .example.com")
    parser.add_argument("--policy", default=None, metavar="FILE",
                        help="answer from this policy.toml's [tls_policy] (pins, resolver, CA file), as the daemon does")
    parser.add_argument("--nameserver", default=None,
                        help="validating resolver address (default: the policy's, else 127.0.0.1; "
                             "'system' for resolv.conf)")
    parser.add_argument("--port", type=int, default=None, help="resolver port (default: the policy's, else 53)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per lookup (default: the policy's, else 10)")
    parser.add_argument("--classify", action="store_true", help="also show the TLS class (may probe the MX)")
    parser.add_argument("--no-probe", action="store_true", help="with --classify: do not connect to the MX")
    parser.add_argument("-v", "--verbose", action="store_true", help="log each step")
    return parser


async def run(config: TlsPolicyConfig, keys: Sequence[str], classify: bool, out: _Writer) -> int:
    service = TlsPolicyService(config)
    status = 0
    await service.start(serve=False)
    try:
        for key in keys:
            try:
                decision = await service.decide(key)
            except LookupTempError as exc:
                out(f"{key}\tTEMP\t{exc}")
                status = max(status, 2)
            else:
                answer = decision.postfix_policy()
                out(f"{key}\t{'OK ' + answer if answer else 'NOTFOUND'}\t{decision.source.value}: {decision.detail}")
            if classify:
                try:
                    out(f"{key}\tclass\t{(await service.classify(key)).value}")
                except DecisionFailed as exc:
                    out(f"{key}\tclass\tunknown (decision failed: {exc})")
    finally:
        await service.stop()
    return status


class _Writer:
    def __call__(self, line: str) -> None:
        print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 0 when every key got an answer, 2 when one answered TEMP, 1 on bad usage."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(message)s")
    try:
        config = _config(args)
    except (ValueError, PolicyError) as exc:
        print(f"tls-query: {exc}", file=sys.stderr)
        return 1
    return asyncio.run(run(config, args.keys, args.classify, _Writer()))


def _config(args: argparse.Namespace) -> TlsPolicyConfig:
    """The policy's [tls_policy] (or the built-in defaults), with the command line's overrides."""
    base = TlsPolicyConfig(nameserver="127.0.0.1")
    if args.policy is not None:
        from privacy_milter.policy import load

        from ..registry import FILTERS  # the policy names filters: their tables are read too

        base = load(args.policy, FILTERS).tls_policy.config
    changes: dict[str, object] = {"mtasts_refresh_interval": 0}  # one-shot: no background refresh
    if args.nameserver is not None:
        changes["nameserver"] = None if args.nameserver == "system" else args.nameserver
    if args.port is not None:
        changes["nameserver_port"] = args.port
    if args.timeout is not None:
        changes.update(dns_timeout=args.timeout, mtasts_fetch_timeout=args.timeout, probe_timeout=args.timeout)
    if args.no_probe:
        changes["probe_enabled"] = False
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
