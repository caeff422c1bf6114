"""`[mta_sts]`: the MTA-STS policy this host publishes for each hosted domain.

A default for every domain (`mode`, `mx`, `max_age`) and per-domain overrides in
`[mta_sts.domain."DOMAIN"]`. The domains are `[network] hosted_domains` plus any named in
a per-domain table. `webroot` is where `publish` writes each domain's file
(WEBROOT/DOMAIN/.well-known/mta-sts.txt, what deploy/nginx/mta-sts.conf serves).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from ..plugin import check_domain
from ..tlspolicy.dnsclient import ascii_domain
from ..tlspolicy.model import DnsLookupError
from ..tlspolicy.mtasts_policy import valid_mx_pattern
from ..tomlcheck import Reader

MODES = ("testing", "enforce", "none")
MAX_MAX_AGE = 31557600  # RFC 8461 §3.2: at most one year
MIN_MAX_AGE = 86400     # RFC 8461 §3.2 recommends weeks; shorter than a day only churns senders' caches


@dataclass(frozen=True)
class DomainPolicy:
    """What one domain publishes."""

    mode: str
    mx: tuple[str, ...]
    max_age: int


@dataclass(frozen=True)
class MtaStsSettings:
    mode: str = "testing"
    mx: tuple[str, ...] = ()
    max_age: int = 604800  # one week
    webroot: Path = Path("/var/www/mta-sts")
    tlsrpt_rua: tuple[str, ...] = ()  # mailto:/https: URIs; empty: [reports] tlsrpt addresses
    smtp_port: int = 25  # where `check` asks each MX for its certificate
    domains: Mapping[str, DomainPolicy] = field(default_factory=lambda: MappingProxyType({}))

    def default_policy(self) -> DomainPolicy:
        return DomainPolicy(self.mode, self.mx, self.max_age)

    def policy_for(self, domain: str) -> DomainPolicy:
        return self.domains.get(a_label(domain), self.default_policy())


def a_label(domain: str) -> str:
    """The A-label form DNS and the web server use ("café.example" → "xn--caf-dma.example");
    the name unchanged (lower case) when it is not a valid domain (reported elsewhere)."""
    try:
        return ascii_domain(domain)
    except DnsLookupError:
        return domain.lower().rstrip(".")


def _mx_problem(pattern: str) -> str | None:
    if valid_mx_pattern(pattern.lower().rstrip(".")):
        return None
    return 'not a host name or "*.domain" pattern such as "mx1.example.net" or "*.mx.example.net"'


def _rua_problem(uri: str) -> str | None:
    if uri.startswith("mailto:") and "@" in uri or uri.startswith("https://"):
        return None
    return 'must be "mailto:ADDRESS" or an "https://" URL (RFC 8460 §3)'


def _read_domain(r: Reader, d: DomainPolicy) -> DomainPolicy:
    policy = DomainPolicy(
        mode=r.string("mode", d.mode, MODES),
        mx=tuple(m.lower().rstrip(".") for m in r.strings("mx", d.mx, _mx_problem)),
        max_age=r.integer("max_age", d.max_age, MIN_MAX_AGE, MAX_MAX_AGE),
    )
    if policy.mode != "none" and not policy.mx and ("mode" in r or "mx" in r):
        r.problem("mx", f'mode "{policy.mode}" needs at least one mx pattern (the names of this host\'s MX)')
    r.done()
    return policy


def read_mta_sts(r: Reader) -> MtaStsSettings:
    d = MtaStsSettings()
    base = MtaStsSettings(
        mode=r.string("mode", d.mode, MODES),
        mx=tuple(m.lower().rstrip(".") for m in r.strings("mx", d.mx, _mx_problem)),
        max_age=r.integer("max_age", d.max_age, MIN_MAX_AGE, MAX_MAX_AGE),
        webroot=Path(r.string("webroot", str(d.webroot))),
        tlsrpt_rua=r.strings("tlsrpt_rua", d.tlsrpt_rua, _rua_problem),
        smtp_port=r.integer("smtp_port", d.smtp_port, 1, 65535),
    )
    if not base.webroot.is_absolute():
        r.problem("webroot", "must be an absolute path such as /var/www/mta-sts")
    tables = r.table("domain")
    per_domain: dict[str, DomainPolicy] = {}
    for name in tables.keys():
        if problem := check_domain(name):
            tables.problem(name, problem)
        per_domain[a_label(name)] = _read_domain(tables.table(name), base.default_policy())
    tables.done()
    r.done()
    return MtaStsSettings(mode=base.mode, mx=base.mx, max_age=base.max_age, webroot=base.webroot,
                          tlsrpt_rua=base.tlsrpt_rua, smtp_port=base.smtp_port,
                          domains=MappingProxyType(per_domain))
