"""`privacy-milter mta-sts publish [DOMAIN]` and `mta-sts check [DOMAIN]`.

publish: for each domain, write the policy file under `[mta_sts] webroot` and print the two
DNS records to add (the `_mta-sts` TXT with the policy's id, the `_smtp._tls` TLS-RPT
record). An `enforce` policy is written only when every MX of the domain matches it and
presents a valid certificate (check_mx); otherwise nothing is written for that domain and
the command exits 1: an enforcing sender would refuse our mail.

check: the four steps of check.py per domain; exit 0 when all pass, 1 otherwise.
DNS goes through `[tls_policy] nameserver` (or /etc/resolv.conf), the policy fetch
through the outbound client's fetcher with `[tls_policy] mta_sts_ca_file` as trust.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
from dataclasses import dataclass
from typing import IO

from ..policy import Policy
from ..tlspolicy.dnsclient import DnsClient, ascii_domain, make_resolver
from ..tlspolicy.https import PolicyFetcher
from ..tlspolicy.mtasts_policy import parse_policy
from .check import Checker, Report
from .publish import Published, build, tlsrpt_record, write_policy
from .settings import MtaStsSettings, a_label
from .starttls import Connect, default_connect

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 64


@dataclass(frozen=True)
class Wiring:
    """What check needs from outside; tests hand in the DNS stub, the test CA and a host map."""

    dns: DnsClient
    fetcher: PolicyFetcher
    tls_context: ssl.SSLContext | None = None  # for the MX certificates (default: system roots)
    connect: Connect = default_connect


def settings_of(policy: Policy) -> MtaStsSettings:
    return policy.mta_sts


def domains_of(policy: Policy, only: str | None) -> list[str]:
    if only is not None:
        return [ascii_domain(only)]
    return sorted({a_label(d) for d in policy.network.hosted_domains} | set(policy.mta_sts.domains))


def rua_of(policy: Policy) -> tuple[str, ...]:
    s = policy.mta_sts
    if s.tlsrpt_rua:
        return s.tlsrpt_rua
    reports = policy.filter_settings.get("reports")
    return tuple(f"mailto:{a}" for a in getattr(reports, "tlsrpt", ()))


def default_wiring(policy: Policy) -> Wiring:
    cfg = policy.tls_policy.config
    dns = DnsClient(make_resolver(cfg.nameserver, cfg.nameserver_port, cfg.dns_timeout))
    ctx = ssl.create_default_context(cafile=cfg.mtasts_ca_file) if cfg.mtasts_ca_file else None
    fetcher = PolicyFetcher(timeout=cfg.mtasts_fetch_timeout, max_bytes=cfg.mtasts_max_policy_bytes,
                            ssl_context=ctx)
    return Wiring(dns=dns, fetcher=fetcher)


def _checker(policy: Policy, wiring: Wiring) -> Checker:
    return Checker(wiring.dns, wiring.fetcher, smtp_port=policy.mta_sts.smtp_port,
                   tls_context=wiring.tls_context, connect=wiring.connect)


async def publish(policy: Policy, only: str | None, out: IO[str], wiring: Wiring) -> int:
    domains = domains_of(policy, only)
    if not domains:
        print("no domains: list them in [network] hosted_domains or [mta_sts.domain.\"DOMAIN\"]", file=out)
        return EXIT_USAGE
    checker = _checker(policy, wiring)
    rua = rua_of(policy)
    status = EXIT_OK
    for domain in domains:
        wanted = policy.mta_sts.policy_for(domain)
        if wanted.mode != "none" and not wanted.mx:
            print(f"{domain}: not published: no mx patterns ([mta_sts] mx)", file=out)
            status = EXIT_FAIL
            continue
        published = build(domain, wanted)
        if wanted.mode == "enforce":
            report = await checker.check_mx(domain, parse_policy(published.text))
            if not report.ok:
                _refuse(report, out)
                status = EXIT_FAIL
                continue
        path = write_policy(policy.mta_sts.webroot, domain, published.text)
        _print_published(published, path, tlsrpt_record(domain, rua), out)
    return status


def _refuse(report: Report, out: IO[str]) -> None:
    print(f"{report.domain}: NOT published: mode enforce would make senders refuse mail to it:", file=out)
    for line in report.lines():
        if " FAIL " in line:
            print(f"  {line}", file=out)
    print(f"{report.domain}: fix the above, or publish mode \"testing\" first", file=out)


def _print_published(p: Published, path: object, tlsrpt: str | None, out: IO[str]) -> None:
    mode = next(ln for ln in p.text.splitlines() if ln.startswith("mode:")).split(":", 1)[1].strip()
    print(f"{p.domain}: wrote {path} (mode {mode}, id {p.policy_id})", file=out)
    print(f"  {p.sts_record()}", file=out)
    if tlsrpt:
        print(f"  {tlsrpt}", file=out)
    else:
        print("  (no TLS-RPT record: set [filters.reports] tlsrpt or [mta_sts] tlsrpt_rua)", file=out)
    print(f"  mta-sts.{p.domain} must serve it over HTTPS with a certificate for that name "
          "(deploy/nginx/mta-sts.conf)", file=out)


async def check(policy: Policy, only: str | None, out: IO[str], wiring: Wiring) -> int:
    domains = domains_of(policy, only)
    if not domains:
        print("no domains: list them in [network] hosted_domains or [mta_sts.domain.\"DOMAIN\"]", file=out)
        return EXIT_USAGE
    checker = _checker(policy, wiring)
    status = EXIT_OK
    for domain in domains:
        wanted = policy.mta_sts.policy_for(domain)
        expected = build(domain, wanted) if wanted.mx or wanted.mode == "none" else None
        report = await checker.check(domain, expected)
        for line in report.lines():
            print(line, file=out)
        if not report.ok:
            status = EXIT_FAIL
    return status


def run(policy: Policy, action: str, only: str | None, *, wiring: Wiring | None = None,
        out: IO[str] = sys.stdout) -> int:
    async def go() -> int:
        w = wiring or default_wiring(policy)
        await w.fetcher.start()
        try:
            if action == "publish":
                return await publish(policy, only, out, w)
            return await check(policy, only, out, w)
        finally:
            await w.fetcher.stop()

    return asyncio.run(go())


def add_arguments(sub: object, policy_help: str) -> None:
    """The `mta-sts` subcommand's parser (sub: argparse's subparsers object)."""
    p = sub.add_parser("mta-sts", help="MTA-STS for the hosted domains: publish the policy and "  # type: ignore[attr-defined]
                                       "records, or check them as a sender does")
    actions = p.add_subparsers(dest="mta_sts_action", metavar="ACTION", required=True)
    for name, text in (("publish", "write each domain's policy file and print its DNS records"),
                       ("check", "fetch and verify each domain's MTA-STS as a sending MTA would")):
        a = actions.add_parser(name, help=text)
        a.add_argument("--policy", help=policy_help)
        a.add_argument("domain", nargs="?", help="one domain (default: every hosted domain)")

