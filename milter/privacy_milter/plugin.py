"""The one interface between the core and the checks: what a filter declares and what it gets.

A filter module (filters/privacy_filters/NAME.py) imports only this module, model, services
and tomlcheck. It defines a frozen settings dataclass derived from FilterSettings, a reader
`read(r: Reader) -> Settings` that validates its own `[filters.NAME]` table through
tomlcheck (every problem with its key path and line), `build(settings, services) -> Filter`,
and a `FilterSpec` that also declares what the filter can say (its `symbols`: fact names
with their allowed values, as rspamd modules declare symbols) and the CLI commands it
brings. The core reads results only through those declarations: metrics, the log line, the
store and the summary never parse a fact by a filter's name, and nothing in milter/ imports
a filter except registry.py.

At run time a filter gets the message and a FilterContext: the results so far, the header
edits so far, the services, a read-only view of the site (site.py) and what its own
`prepare` hook returned for this message.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Protocol, TextIO, TypeVar

from . import hostname as hostname  # this host's name, a filter's fallback (services.host_name first)
from . import postconf as postconf  # a filter asking Postfix its settings (the tls filter's relayhost)
from .model import Action, HeaderEdit, Message, Result, apply_edits
from .services import Services
from .site import (ON_ERROR as ON_ERROR, CustomerSettings as CustomerSettings, FilterSettings as FilterSettings,
                   IpNetwork as IpNetwork, NetworkSettings as NetworkSettings, Site as Site,
                   check_domain as check_domain, check_network as check_network, domains as domains,
                   in_networks as in_networks, networks as networks, read_common as read_common,
                   read_nameserver as read_nameserver)
from .tlspolicy.model import TlsClass as TlsClass  # the TLS classifier's answer (services.tls_classifier)
from .tlspolicy.nexthop import parse_next_hop as parse_next_hop  # Postfix's next-hop syntax
from .tomlcheck import Problems, Reader

T = TypeVar("T")

# The words policy.toml uses for what happens to a message.
ACTION_WORDS = {"reject": Action.REJECT, "quarantine": Action.QUARANTINE, "tag": Action.TAG,
                "log": Action.ACCEPT}
# The actions that let a message with findings leave (tagged) or wait (held): what makes
# it "flagged", so it may leave only over TLS.
FLAGGING_ACTIONS = frozenset({Action.TAG, Action.QUARANTINE})


# --- at run time -----------------------------------------------------------------------------

@dataclass
class FilterContext:
    """What a filter may use besides the message."""

    site: Site
    services: Services = Services()
    results: list[Result] = field(default_factory=list)    # earlier filters', in pipeline order
    edits: list[HeaderEdit] = field(default_factory=list)  # their header edits, in order
    prepared: object = None  # what this filter's own prepare hook returned (set per stage)

    @property
    def action_so_far(self) -> Action:
        return max((r.action for r in self.results), default=Action.ACCEPT)

    def outgoing_headers(self, message: Message) -> list[tuple[str, str]]:
        """The header as it will leave this milter if nothing else changes it."""
        return apply_edits(message.headers, self.edits)

    def flagged_categories(self) -> list[str]:
        """The categories of findings an earlier check acted on without refusing the message
        (tag or quarantine): such a message may leave only over TLS. Read from the typed
        findings of any result, never from a filter's name."""
        return sorted({f.category for r in self.results if r.action in FLAGGING_ACTIONS for f in r.findings})

    def prepared_as(self, kind: type[T]) -> T | None:
        """This filter's prepared value, if prepare left one of that type."""
        value = self.prepared
        return value if isinstance(value, kind) else None


class PolicyView(Protocol):
    """What a filter's policy warnings read: the pipeline's names and each filter's settings.
    A Site has them, and so has a Policy (main's doctor passes one)."""

    @property
    def filters(self) -> tuple[str, ...]: ...

    def settings(self, name: str) -> FilterSettings: ...


class Filter(Protocol):
    """Anything with a `name` and `check`; optional hooks the pipeline looks up:
    `prepare(message, deadline) -> value` (CPU work in the connection's thread, before the
    loop; its value comes back as ctx.prepared), `decide(message, ctx) -> Result | None`
    (the answer without the loop), `fail_closed(message, ctx, problem) -> Result | None`,
    and the attribute `sees_all_edits = True` (a signer: runs last)."""

    name: str

    async def check(self, message: Message, ctx: FilterContext) -> Result: ...


# --- what a filter declares ----------------------------------------------------------------

@dataclass(frozen=True)
class Counter:
    """A Prometheus counter some symbol's values add to (docs/METRICS.md names each)."""

    name: str                  # privacy_milter_..._total
    help: str
    labels: tuple[str, ...] = ()


# value, failed -> the label values of each increment (none: not counted)
Labels = Callable[[str, bool], Iterable[tuple[str, ...]]]


@dataclass(frozen=True)
class Symbol:
    """One fact a filter can give: `(name, value)` in its Result's facts, as the store keeps
    it. `values` are the values it takes (empty: a free text such as a virus name or a
    reason, never a found value). A symbol with `counter` and `labels` is counted in that
    counter; one with `log_key` is shown on the message's log line as ` log_key=value`."""

    name: str
    values: frozenset[str] = frozenset()
    help: str = ""
    counter: Counter | None = None
    labels: Labels | None = None
    log_key: str | None = None
    # Values that say the check did not look at the message (a customer not opted in, too
    # large, an engine skipped): the summary leaves them out of what the check examined.
    not_examined: frozenset[str] = frozenset()


@dataclass(frozen=True)
class CommandEnv:
    """What the CLI hands a filter's command: how to load the policy a user named (a Site
    view of it) and where to write."""

    load_site: Callable[[Path | None], Site]
    out: TextIO
    default_policy: Path


@dataclass(frozen=True)
class Command:
    """A `privacy-milter NAME ...` subcommand a filter brings (`dkim keygen`)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser, CommandEnv], None]
    run: Callable[[argparse.Namespace, CommandEnv], int]


ExplainRow = str  # one line of `scan --explain` for one finding, value masked


@dataclass(frozen=True)
class Explanation:
    """What `scan --explain` prints for one filter and one message: a row per finding (value
    masked) and notes on what could not be read and why (e.g. `unscannable: malformed=1`)."""

    rows: list[ExplainRow]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FilterSpec:
    name: str
    read: Callable[[Reader], FilterSettings]
    build: Callable[[FilterSettings, Services], Filter]
    after: tuple[str, ...] = ()   # when both are listed, this filter must come after these
    offline: bool = False         # reads only the message: `privacy-milter scan` runs it
    default: bool = False         # in [pipeline] filters when the policy does not list them
    opt_in: bool = False          # customers opt in with `[customers."d"] NAME = true`
    # Tables this filter owns under [customers."domain"]: key -> reader of that table.
    customer_tables: Mapping[str, Callable[[Reader], object]] = field(
        default_factory=lambda: MappingProxyType({}))
    # What this filter finds unsafe in a valid policy (policy check and start-up print each
    # as a warning): the site -> warning texts.
    warnings: Callable[[Site], list[str]] | None = None
    start: Callable[[], object] | None = None  # once when the daemon starts (warm a worker)
    stop: Callable[[], object] | None = None   # once when it stops
    symbols: tuple[Symbol, ...] = ()           # the facts it gives
    categories: tuple[str, ...] = ()           # the finding categories it reports
    commands: tuple[Command, ...] = ()         # its CLI subcommands
    # `scan --explain`: per finding in a raw message, one line (the value masked).
    explain: Callable[[bytes, FilterSettings], Explanation] | None = None


def policy_warnings(specs: Iterable[FilterSpec], site: Site) -> list[str]:
    """Every filter's warnings about the site's policy (FilterSpec.warnings), in registry order."""
    return [w for spec in specs if spec.warnings is not None for w in spec.warnings(site)]


def default_settings(read: Callable[[Reader], T]) -> T:
    """A filter's settings when its table is absent (what `read` gives an empty table)."""
    return read(Reader({}, (), Problems("(defaults)", "")))


def symbol_table(specs: Iterable[FilterSpec]) -> dict[tuple[str, str], Symbol]:
    """(filter name, fact name) -> its declaration, for every spec."""
    return {(spec.name, s.name): s for spec in specs for s in spec.symbols}
