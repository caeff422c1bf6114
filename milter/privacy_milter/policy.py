"""policy.toml, validated once at load into frozen, typed settings.

This module assembles the Policy: the mail path's sections (policy_mail.py: [milter],
[log], [store], [network]), [pipeline] and [customers] here, the sections beside the mail
path (policy_sections.py: [tls_policy], [metrics], [summary], [smtp]; quarantine/settings.py:
[quarantine]; [mta_sts] in mtasts_publish/settings.py). Each filter's own [filters.NAME] table
is read by that filter's module, through the FilterSpecs `parse` is given
(plugin.FilterSpec.read): this module knows no filter. Filters never read raw dicts:
they get their settings dataclass. Every problem in the file is reported in one go, each
with its key path and line, and an invalid file is never half-applied.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

from .errors import PolicyError
from .plugin import FilterSpec
from .policy_mail import (LOG_LEVELS as LOG_LEVELS, MAX_POLICY_BYTES as MAX_POLICY_BYTES, LogSettings,
                          MilterSettings, StoreSettings, _build_log, _build_milter, _build_network, _build_store,
                          conninfo_problem as conninfo_problem, inet_socket_host as inet_socket_host,
                          milter_socket_warnings as milter_socket_warnings, read_policy_text)
from .policy_sections import (MetricsSettings, SmtpSettings, SummarySettings, TlsPolicySettings, _build_metrics,
                              _build_smtp, _build_summary, _build_tls_policy)
from .site import (CustomerSettings as CustomerSettings, FilterSettings as FilterSettings,
                   NetworkSettings as NetworkSettings, Site, check_domain, find_customer)
from .tomlcheck import Problems, Reader
from .quarantine.settings import QuarantineSettings, read_settings as read_quarantine
from .mtasts_publish.settings import MtaStsSettings, read_mta_sts

Filters = Mapping[str, FilterSpec]  # the registry's FILTERS: name -> spec


@dataclass(frozen=True)
class Policy:
    source: str
    milter: MilterSettings
    log: LogSettings
    store: StoreSettings
    network: NetworkSettings
    filters: tuple[str, ...]                        # the pipeline, in order
    filter_settings: Mapping[str, FilterSettings]   # every known filter's, listed or not
    tls_policy: TlsPolicySettings
    customers: Mapping[str, CustomerSettings]
    metrics: MetricsSettings = MetricsSettings()
    summary: SummarySettings = SummarySettings()
    smtp: SmtpSettings = SmtpSettings()
    quarantine: QuarantineSettings = QuarantineSettings()
    mta_sts: MtaStsSettings = MtaStsSettings()  # what this host publishes for its domains (issue 28)

    def customer(self, domain: str) -> CustomerSettings | None:
        return find_customer(self.customers, domain)

    def settings(self, name: str) -> FilterSettings:
        """A filter's settings ([filters.NAME], defaults when the table is absent)."""
        return self.filter_settings[name]

    @functools.cached_property
    def site(self) -> Site:
        """What filters may read of this policy (plugin.FilterContext.site)."""
        return Site(header_prefix=self.milter.header_prefix, network=self.network, customers=self.customers,
                    filter_settings=self.filter_settings, filters=self.filters)


# The filters `parse` reads when the caller names none: set once by registry.py (`install`),
# so this module never imports the filters (they import the core, not the core them).
_installed: list[Filters] = []


def install(filters: Filters) -> None:
    """Make `filters` the default of parse/load (registry.py does this once, at import)."""
    _installed[:] = [filters]


def _known(filters: Filters | None) -> Filters:
    if filters is not None:
        return filters
    if not _installed:
        raise RuntimeError("no filter registry: pass filters= (registry.FILTERS) or import privacy_milter.registry")
    return _installed[0]


def load(path: str | Path, filters: Filters | None = None) -> Policy:
    """Read and validate a policy file. Raises PolicyError listing every problem."""
    path = Path(path)
    return parse(read_policy_text(path), str(path), filters)


def parse(text: str, source: str = "policy.toml", filters: Filters | None = None) -> Policy:
    known = _known(filters)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, [f"{source}: not valid TOML: {exc}"]) from None
    problems = Problems(source, text)
    policy = _build(Reader(data, (), problems), source, known)
    if problems.items:
        raise PolicyError(source, problems.render())
    return policy


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the policy file, on start and on every reload."""

    socket: str | None = None
    store: Path | None = None
    host_name: str | None = None  # the name resolved at start (hostname.resolve), kept across reloads

    def apply(self, policy: Policy) -> Policy:
        if self.socket:
            policy = replace(policy, milter=replace(policy.milter, socket=self.socket))
        if self.store:
            policy = replace(policy, store=replace(policy.store, path=self.store))
        if self.host_name:
            policy = replace(policy, store=replace(policy.store, host_name=self.host_name))
        return policy


def load_with(path: Path, overrides: Overrides, filters: Filters | None = None) -> Policy:
    return overrides.apply(load(path, filters))


def default(filters: Filters | None = None) -> Policy:
    return parse("", "(built-in defaults)", filters)


# --- building --------------------------------------------------------------------------

def _build(top: Reader, source: str, known: Filters) -> Policy:
    milter = _build_milter(top.table("milter"))
    log = _build_log(top.table("log"))
    store = _build_store(top.table("store"))
    network = _build_network(top.table("network"))
    names = _build_pipeline(top.table("pipeline"), known)
    tables = top.table("filters")
    for name in tables.keys():
        if name not in known:
            tables.problem(name, f"unknown filter; known: {', '.join(known)}")
            tables.table(name)  # mark as read: the problem is already reported
    settings = MappingProxyType({name: spec.read(tables.table(name)) for name, spec in known.items()})
    tables.done()
    tls_policy = _build_tls_policy(top.table("tls_policy"))
    customers = _build_customers(top.table("customers"), known)
    metrics = _build_metrics(top.table("metrics"))
    summary = _build_summary(top.table("summary"))
    smtp = _build_smtp(top.table("smtp"), summary)
    quarantine = read_quarantine(top.table("quarantine"))  # issue 27: quarantine/settings.py
    mta_sts = read_mta_sts(top.table("mta_sts"))  # issue 28: mtasts_publish/settings.py
    top.done()
    return Policy(source=source, milter=milter, log=log, store=store, network=network, filters=names,
                  filter_settings=settings, tls_policy=tls_policy, customers=customers, metrics=metrics,
                  summary=summary, smtp=smtp, quarantine=quarantine, mta_sts=mta_sts)


def _build_pipeline(pipeline: Reader, known: Filters) -> tuple[str, ...]:
    listed = ", ".join(known)
    names = pipeline.strings("filters", [s.name for s in known.values() if s.default],
                             check=lambda n: None if n in known else f"unknown filter; known: {listed}")
    if len(set(names)) != len(names):
        pipeline.problem("filters", "lists a filter twice")
    for name in names:
        for before in known[name].after if name in known else ():
            if before in names and names.index(before) > names.index(name):
                pipeline.problem("filters", f'"{name}" must come after "{before}": it acts on what {before} found')
    pipeline.done()
    return names


def _build_customers(r: Reader, known: Filters) -> Mapping[str, CustomerSettings]:
    opt_ins = [spec.name for spec in known.values() if spec.opt_in]
    owned = {key: reader for spec in known.values() for key, reader in spec.customer_tables.items()}
    customers: dict[str, CustomerSettings] = {}
    for domain in r.keys():
        c = r.table(domain)
        if problem := check_domain(domain):
            r.problem(domain, problem)
        customers[domain.lower().rstrip(".")] = CustomerSettings(
            opt_in=frozenset(name for name in opt_ins if c.boolean(name, False)),
            tables=MappingProxyType({key: reader(c.table(key)) for key, reader in owned.items()}),
        )
        c.done()
    r.done()
    return MappingProxyType(customers)
