"""Filter names in policy.toml → the objects that run them. New checks register here."""

from __future__ import annotations

from collections.abc import Callable

from privacy_filters.dlp_filter import DlpFilter
from privacy_filters.spam import SpamFilter
from privacy_filters.tls import TlsFilter
from privacy_filters.virus import VirusFilter

from .pipeline import Filter, Pipeline, Stage
from .policy import FilterSettings, Policy

# name → (factory taking the policy, reads only the message content: usable offline by
# `privacy-milter scan`). Filters are built again with each policy load.
FILTERS: dict[str, tuple[Callable[[Policy], Filter], bool]] = {
    "tls": (lambda _policy: TlsFilter(), False),
    "dlp": (DlpFilter, True),  # loads per-policy resources (the modulus table)
    # the scanners talk to their engines and need the envelope (opt-ins): not offline
    "virus": (lambda _policy: VirusFilter(), False),
    "spam": (lambda _policy: SpamFilter(), False),
}


def settings_for(policy: Policy, name: str) -> FilterSettings:
    settings = getattr(policy, name)
    assert isinstance(settings, FilterSettings)
    return settings


def build_pipeline(policy: Policy, *, content_only: bool = False) -> Pipeline:
    stages = []
    for name in policy.filters:
        factory, is_content = FILTERS[name]
        if content_only and not is_content:
            continue
        stages.append(Stage(factory(policy), settings_for(policy, name)))
    return Pipeline(stages)
