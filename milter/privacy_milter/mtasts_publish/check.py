"""`mta-sts check`: what a sending MTA does with a hosted domain, step by step, and what is wrong.

1. `_mta-sts.DOMAIN` TXT (through the injected DNS client: the `[tls_policy]` resolver)
   must hold one v=STSv1 record with an id, the id `publish` computed for today's policy;
2. https://mta-sts.DOMAIN/.well-known/mta-sts.txt must be served over HTTPS with a
   certificate valid for that name, and parse (the outbound client's fetcher and parser);
3. every MX of the domain must match one of the policy's mx patterns;
4. each MX must present, after STARTTLS, a certificate valid for its name.

In enforce mode a failure in 3 or 4 makes senders refuse to deliver: `publish` runs those
two against the policy it is about to write (`check_mx`) and refuses to write it then.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from ..tlspolicy.dnsclient import DnsClient
from ..tlspolicy.https import WELL_KNOWN, PolicyFetcher
from ..tlspolicy.model import DnsLookupError, MtaStsError, MtaStsPolicy
from ..tlspolicy.mtasts_policy import parse_policy, parse_txt
from .publish import Published
from .starttls import Connect, check_certificate, default_connect


@dataclass(frozen=True)
class Step:
    ok: bool
    what: str    # "TXT _mta-sts.shop.example", "policy", "MX mx1.host.example", ...
    detail: str


@dataclass
class Report:
    domain: str
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    def add(self, ok: bool, what: str, detail: str) -> None:
        self.steps.append(Step(ok, what, detail))

    def lines(self) -> list[str]:
        return [f"{self.domain}: {'ok  ' if s.ok else 'FAIL'} {s.what}: {s.detail}" for s in self.steps]


class Checker:
    def __init__(self, dns: DnsClient, fetcher: PolicyFetcher, *, smtp_port: int = 25,
                 tls_context: ssl.SSLContext | None = None, connect: Connect = default_connect,
                 cert_timeout: float = 15.0) -> None:
        self._dns = dns
        self._fetcher = fetcher
        self._port = smtp_port
        self._tls = tls_context
        self._connect = connect
        self._cert_timeout = cert_timeout

    async def check(self, domain: str, expected: Published | None = None) -> Report:
        """All four steps; `expected` is what `publish` would write for the domain today."""
        report = Report(domain)
        await self._check_txt(report, expected)
        served = await self._check_policy(report, expected)
        policy = served or (parse_policy(expected.text) if expected else None)
        if policy is not None:
            await self._check_mx_hosts(report, policy)
        return report

    async def check_mx(self, domain: str, policy: MtaStsPolicy) -> Report:
        """Steps 3 and 4 only, against a policy not yet published."""
        report = Report(domain)
        await self._check_mx_hosts(report, policy)
        return report

    async def _check_txt(self, report: Report, expected: Published | None) -> None:
        name = f"_mta-sts.{report.domain}"
        what = f"TXT {name}"
        try:
            answer = await self._dns.query(name, "TXT")
        except DnsLookupError as exc:
            report.add(False, what, f"lookup failed: {exc}")
            return
        strings = [b"".join(r.strings).decode("utf-8", "replace") for r in answer.records]
        policy_id = parse_txt(strings)
        if policy_id is None:
            found = f"{len(strings)} TXT record(s), none usable" if strings else "no record"
            report.add(False, what, f'{found}: senders never look for the policy; publish '
                                    f'"v=STSv1; id=..." (privacy-milter mta-sts publish prints it)')
        elif expected is not None and policy_id != expected.policy_id:
            report.add(False, what, f"id={policy_id}, but the policy now has id={expected.policy_id}: senders "
                                    "keep their cached copy; update the record")
        else:
            report.add(True, what, f"id={policy_id}")

    async def _check_policy(self, report: Report, expected: Published | None) -> MtaStsPolicy | None:
        what = f"policy https://mta-sts.{report.domain}{WELL_KNOWN}"
        try:
            text = await self._fetcher.fetch(report.domain)
            policy = parse_policy(text)
        except MtaStsError as exc:
            report.add(False, what, f"a sender cannot use it: {exc}")
            return None
        summary = f"mode {policy.mode.value}, mx {', '.join(policy.mx) or '(none)'}, max_age {policy.max_age}"
        if expected is not None and text != expected.text:
            report.add(False, what, f"served policy ({summary}) is not the one publish writes; "
                                    "copy the file again or point the web server at the webroot")
            return policy
        report.add(True, what, summary)
        return policy

    async def _mx_hosts(self, report: Report) -> list[str] | None:
        try:
            answer = await self._dns.query(report.domain, "MX")
        except DnsLookupError as exc:
            report.add(False, "MX", f"lookup failed: {exc}")
            return None
        pairs = sorted((r.preference, r.exchange.to_text(omit_final_dot=True).lower()) for r in answer.records)
        hosts = [h for _, h in pairs if h]
        if not hosts:
            report.add(False, "MX", "the domain has no MX record")
            return None
        return hosts

    async def _check_mx_hosts(self, report: Report, policy: MtaStsPolicy) -> None:
        hosts = await self._mx_hosts(report)
        for host in hosts or ():
            if not policy.matches(host):
                report.add(False, f"MX {host}", f"matches no mx pattern ({', '.join(policy.mx) or 'none'}): "
                                                "an enforcing sender refuses to deliver there")
                continue
            report.add(True, f"MX {host}", "matches the policy")
            cert = await check_certificate(host, self._port, ctx=self._tls, connect=self._connect,
                                           timeout=self._cert_timeout)
            report.add(cert.ok, f"certificate of {host}", cert.detail)
