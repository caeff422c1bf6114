"""doctor's MTA-STS line(s): `mta-sts check` for every hosted domain, under doctor's time
bound. A domain in enforce mode that fails is a failure (senders refuse our mail); in
testing it is a warning (senders only report it); nothing configured is said, not failed."""

from __future__ import annotations

import asyncio

from ..doctor.model import Finding, Setup, fail, ok, skip, warn
from .check import Checker, Report
from .command import Wiring, default_wiring, domains_of
from .publish import build

MTA_STS = "mta-sts"
BUDGET = 10.0      # all domains together, checked side by side
CERT_TIMEOUT = 5.0


def check(setup: Setup, wiring: Wiring | None = None) -> list[Finding]:
    """`wiring`: what check.py asks through (tests: the DNS stub, the test CA); default the policy's."""
    policy = setup.policy
    if policy is None:
        return [skip(MTA_STS, "could not check: the policy does not parse")]
    if not policy.mta_sts.mx and not policy.mta_sts.domains:
        return [ok(MTA_STS, "not published: [mta_sts] mx is not set (docs/MTA-STS.md)")]
    domains = domains_of(policy, None)
    try:
        reports = asyncio.run(_check_all(setup, domains, wiring or default_wiring(policy)))
    except TimeoutError:
        return [fail(MTA_STS, f"the checks of {len(domains)} domain(s) did not finish within {BUDGET:g}s",
                     "privacy-milter mta-sts check")]
    return [line for report in reports for line in _lines(setup, report)]


async def _check_all(setup: Setup, domains: list[str], wiring: Wiring) -> list[Report]:
    assert setup.policy is not None
    policy = setup.policy
    checker = Checker(wiring.dns, wiring.fetcher, smtp_port=policy.mta_sts.smtp_port,
                      tls_context=wiring.tls_context, connect=wiring.connect, cert_timeout=CERT_TIMEOUT)
    await wiring.fetcher.start()
    try:
        async with asyncio.timeout(BUDGET):
            return list(await asyncio.gather(*(
                checker.check(d, build(d, policy.mta_sts.policy_for(d))) for d in domains)))
    finally:
        await wiring.fetcher.stop()


def _lines(setup: Setup, report: Report) -> list[Finding]:
    assert setup.policy is not None
    mode = setup.policy.mta_sts.policy_for(report.domain).mode
    if report.ok:
        return [ok(MTA_STS, f"{report.domain}: mode {mode}, TXT, policy, MX and certificates as a sender sees them")]
    bad = fail if mode == "enforce" else warn
    return [bad(MTA_STS, f"{report.domain}: {s.what}: {s.detail}", f"privacy-milter mta-sts check {report.domain}")
            for s in report.steps if not s.ok]
