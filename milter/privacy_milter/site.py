"""What a check may know of the site it runs on: a small, read-only view of the policy.

A filter never sees the whole Policy (sockets, store, summary are the core's business): it
gets a `Site` with the header prefix, the networks and hosted domains, each customer's
settings and every filter's own settings. The types here are plain frozen data: policy.py
builds them once per load, and plugin.py hands them to filters in the FilterContext.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .model import Action
from .tomlcheck import Reader

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
EMPTY: Mapping[str, object] = MappingProxyType({})


@dataclass(frozen=True)
class FilterSettings:
    """What every filter has: a time bound per message and what a failure does."""

    timeout: float
    on_error: Action


def check_network(item: str) -> str | None:
    try:
        ipaddress.ip_network(item, strict=False)
    except ValueError:
        return "not an IP network such as 192.0.2.0/24"
    return None


def check_domain(item: str) -> str | None:
    if not item or " " in item or "@" in item or item.startswith("."):
        return "not a domain name such as example.co.uk"
    return None


def networks(items: tuple[str, ...]) -> tuple[IpNetwork, ...]:
    return tuple(ipaddress.ip_network(i, strict=False) for i in items)


def domains(items: tuple[str, ...]) -> frozenset[str]:
    return frozenset(i.lower().rstrip(".") for i in items)


@functools.lru_cache(maxsize=4096)  # asked twice per message (direction, TLS) for few clients
def in_networks(addr: str | None, nets: tuple[IpNetwork, ...]) -> bool:
    """Whether a client address (as Postfix writes it, "IPv6:" prefix allowed) is in any network."""
    if not addr:
        return False
    try:
        ip = ipaddress.ip_address(addr.removeprefix("IPv6:"))
    except ValueError:
        return False
    return any(ip in net for net in nets)


@dataclass(frozen=True)
class NetworkSettings:
    hosted_domains: frozenset[str] = frozenset()
    trusted_networks: tuple[IpNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                               ipaddress.ip_network("::1/128"))
    submission_daemons: frozenset[str] = frozenset({"ORIGINATING"})

    def is_hosted(self, domain: str) -> bool:
        return any(domain == d or domain.endswith("." + d) for d in self.hosted_domains)

    def is_trusted(self, addr: str | None) -> bool:
        return in_networks(addr, self.trusted_networks)


@dataclass(frozen=True)
class CustomerSettings:
    """Per hosted domain: the filters it opted in to (`virus = true`) and the per-customer
    tables filters own (`[customers."d".dlp_actions]`), each as its owner's reader made it."""

    opt_in: frozenset[str] = frozenset()
    tables: Mapping[str, object] = field(default_factory=lambda: EMPTY)

    def opted_in(self, name: str) -> bool:
        return name in self.opt_in

    def table(self, key: str) -> object:
        return self.tables.get(key)


def find_customer(customers: Mapping[str, CustomerSettings], domain: str) -> CustomerSettings | None:
    """The customer a domain belongs to: itself or its nearest listed parent."""
    domain = domain.lower()
    while domain:
        if domain in customers:
            return customers[domain]
        domain = domain.partition(".")[2]
    return None


@dataclass(frozen=True)
class Site:
    """The part of the policy a filter may read (FilterContext.site)."""

    header_prefix: str = "X-Privacy"
    network: NetworkSettings = NetworkSettings()
    customers: Mapping[str, CustomerSettings] = field(default_factory=lambda: MappingProxyType({}))
    filter_settings: Mapping[str, FilterSettings] = field(default_factory=lambda: MappingProxyType({}))
    filters: tuple[str, ...] = ()  # the pipeline, in policy order

    def customer(self, domain: str) -> CustomerSettings | None:
        return find_customer(self.customers, domain)

    def is_hosted(self, domain: str) -> bool:
        return self.network.is_hosted(domain)

    def settings(self, name: str) -> FilterSettings:
        """A filter's settings ([filters.NAME], defaults when the table is absent)."""
        return self.filter_settings[name]


def read_nameserver(r: Reader, key: str = "nameserver") -> tuple[str, int] | None:
    """A filter's own resolver: `"127.0.0.1"`, `"127.0.0.1:5353"` or `"[::1]:5353"`; None
    when unset (the daemon's resolver), or when invalid (the problem is on r, with its line)."""
    text = r.string(key, "")
    if not text:
        return None
    host, _, port = text.rpartition(":") if text.count(":") == 1 or text.startswith("[") else ("", "", "")
    host, port = (host.strip("[]"), port) if host else (text, "53")
    try:
        ipaddress.ip_address(host)
        if not (port.isdigit() and 0 < int(port) < 65536):
            raise ValueError
    except ValueError:
        r.problem(key, 'must be an IP address, optionally with a port: "127.0.0.1" or "127.0.0.1:5353"')
        return None
    return host, int(port)


def read_common(r: Reader, timeout: float, on_error: str) -> tuple[float, Action]:
    """`timeout` and `on_error`, which every [filters.NAME] table has."""
    return (r.number("timeout", timeout, 0.1, 280),
            ON_ERROR[r.string("on_error", on_error, ON_ERROR)])


ON_ERROR = {"accept": Action.ACCEPT, "tempfail": Action.TEMPFAIL}
