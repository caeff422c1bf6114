"""`privacy-milter tls-query DOMAIN...`: ask what the socketmap service would answer.

Uses the same resolver code as the daemon (but its own, empty MTA-STS cache), so an
admin can check a destination without Postfix: the socketmap answer, where it came
from, and with --classify the TLS class a flagged message would be given.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import LookupTempError
from privacy_milter.tlspolicy.service import TlsPolicyService


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privacy-milter tls-query",
                                     description="Show the outbound TLS policy Postfix would get for a next hop.")
    parser.add_argument("keys", nargs="+", metavar="DOMAIN",
                        help="next-hop as Postfix asks: example.com, [mx.example.com]:587, .example.com")
    parser.add_argument("--nameserver", default=None,
                        help="validating resolver address (default 127.0.0.1; 'system' for resolv.conf)")
    parser.add_argument("--port", type=int, default=53, help="resolver port (default 53)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per lookup (default 10)")
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
                out(f"{key}\tclass\t{(await service.classify(key)).value}")
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
    nameserver = None if args.nameserver == "system" else (args.nameserver or "127.0.0.1")
    try:
        config = TlsPolicyConfig(nameserver=nameserver, nameserver_port=args.port, dns_timeout=args.timeout,
                                 mtasts_fetch_timeout=args.timeout, probe_timeout=args.timeout,
                                 probe_enabled=not args.no_probe, mtasts_refresh_interval=0)
    except ValueError as exc:
        print(f"tls-query: {exc}", file=sys.stderr)
        return 1
    return asyncio.run(run(config, args.keys, args.classify, _Writer()))


if __name__ == "__main__":
    sys.exit(main())
