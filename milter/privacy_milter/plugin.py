"""What a check brings to the daemon: its name, its settings and how to read them, how to
build it, and where it must run. One `FilterSpec` per filter module; the registry lists them.

A filter module (filters/privacy_filters/NAME.py) defines a frozen settings dataclass
derived from FilterSettings, a reader `read(r: Reader) -> Settings` that validates its own
`[filters.NAME]` table through tomlcheck (every problem with its key path and line), and
`build(settings, services) -> Filter`. policy.py reads the core sections and asks the
registry for each filter's reader; nothing in milter/ names a filter except registry.py.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .model import Action
from .tomlcheck import Problems, Reader

if TYPE_CHECKING:
    from .pipeline import Filter
    from .services import Services

ON_ERROR = {"accept": Action.ACCEPT, "tempfail": Action.TEMPFAIL}
# The words policy.toml uses for what happens to a message.
ACTION_WORDS = {"reject": Action.REJECT, "quarantine": Action.QUARANTINE, "tag": Action.TAG,
                "log": Action.ACCEPT}

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class FilterSettings:
    """What every filter has: a time bound per message and what a failure does."""

    timeout: float
    on_error: Action


@dataclass(frozen=True)
class FilterSpec:
    name: str
    read: Callable[[Reader], FilterSettings]
    build: Callable[[Any, "Services"], "Filter"]
    after: tuple[str, ...] = ()   # when both are listed, this filter must come after these
    offline: bool = False         # reads only the message: `privacy-milter scan` runs it
    default: bool = False         # in [pipeline] filters when the policy does not list them
    opt_in: bool = False          # customers opt in with `[customers."d"] NAME = true`
    # Tables this filter owns under [customers."domain"]: key -> reader of that table.
    customer_tables: Mapping[str, Callable[[Reader], Any]] = field(
        default_factory=lambda: MappingProxyType({}))
    # What this filter finds unsafe in a valid policy (policy check and start-up print each
    # as a warning): policy -> warning texts.
    warnings: Callable[[Any], list[str]] | None = None
    start: Callable[[], object] | None = None  # once when the daemon starts (warm a worker)
    stop: Callable[[], object] | None = None   # once when it stops


def policy_warnings(specs: Iterable[FilterSpec], policy: Any) -> list[str]:
    """Every filter's warnings about `policy` (see FilterSpec.warnings), in registry order."""
    return [w for spec in specs if spec.warnings is not None for w in spec.warnings(policy)]


def default_settings(read: Callable[[Reader], Any]) -> Any:
    """A filter's settings when its table is absent (what `read` gives an empty table)."""
    return read(Reader({}, (), Problems("(defaults)", "")))


def read_common(r: Reader, timeout: float, on_error: str) -> tuple[float, Action]:
    """`timeout` and `on_error`, which every [filters.NAME] table has."""
    return (r.number("timeout", timeout, 0.1, 280),
            ON_ERROR[r.string("on_error", on_error, ON_ERROR)])


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
