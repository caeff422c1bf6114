"""The filters this build knows, by the name policy.toml uses: the one module in milter/
that imports filters/. Adding a check: write its module in filters/privacy_filters/ with a
`SPEC` (plugin.FilterSpec) and add one line here."""

from __future__ import annotations

from privacy_filters import dkim_filter, dlp_filter, reports_filter, spam, tls, virus

from . import policy as policy_mod
from .pipeline import Pipeline, Stage
from .plugin import FilterSpec
from .policy import Policy
from .services import Services

FILTERS: dict[str, FilterSpec] = {spec.name: spec for spec in (
    dlp_filter.SPEC,
    tls.SPEC,     # after dlp: it routes what dlp flagged
    virus.SPEC,   # virus and spam act for opted-in customers and need their engines running
    spam.SPEC,
    reports_filter.SPEC,  # TLS-RPT and DMARC reports mailed to [filters.reports] addresses (issue 28)
    dkim_filter.SPEC,  # signs last (sees_all_edits), whatever its place in [pipeline] filters
)}
policy_mod.install(FILTERS)  # what policy.parse reads when not given filters (it imports none)

# (filter, fact) -> the key the one log line shows it under (plugin.Symbol.log_key), for
# logline.py; kept in step with FILTERS by register/unregister.
LOG_KEYS: dict[tuple[str, str], str] = {}


def _index() -> None:
    LOG_KEYS.clear()
    LOG_KEYS.update({(spec.name, s.name): s.log_key for spec in FILTERS.values() for s in spec.symbols
                     if s.log_key})


def register(spec: FilterSpec) -> None:
    """Add a filter at run time (tests; a site's own check). Policies loaded, metrics made
    and command lines parsed after see it; the log line at once."""
    FILTERS[spec.name] = spec
    _index()


def unregister(name: str) -> None:
    FILTERS.pop(name, None)
    _index()


_index()


def build_pipeline(policy: Policy, services: Services = Services(), *, content_only: bool = False) -> Pipeline:
    """The policy's filters in its order, each built from its own settings. Built again at
    every policy load. `content_only`: only the filters that read nothing but the message
    (what `privacy-milter scan` runs offline)."""
    stages = []
    for name in policy.filters:
        spec = FILTERS[name]
        if content_only and not spec.offline:
            continue
        settings = policy.settings(name)
        stages.append(Stage(spec.build(settings, services), settings))
    return Pipeline(stages)
