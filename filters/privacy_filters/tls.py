"""The tls filter: the inbound session's TLS, and how flagged outbound mail may leave.

Inbound: the TLS facts (version, cipher) travel in the Session into the store and the log
line; this check refuses plain text only where policy says so (5.7.10 "encryption needed",
RFC 5248).

Outbound: a message the dlp check flagged (its findings were acted on: tag or quarantine)
must never leave in clear text. Each remote recipient domain is classified by the TLS
policy service; if all can do TLS the message gets the X-Privacy-Encrypt marker, which
Postfix's milter_header_checks turns into FILTER to the encrypt-only transport. Otherwise
[filters.tls] flagged_plaintext / flagged_unknown decide. That second part lives in
flagged_routing.py; this module holds the settings, the inbound rules and the filter.
"""

from __future__ import annotations

from privacy_milter.model import Action, Message, Reply, Result
from privacy_milter.plugin import (Counter, FilterContext, FilterSettings, FilterSpec, PolicyView, Symbol,
                                   default_settings, in_networks)
from privacy_milter.services import Services

from .flagged_routing import DECISION_FAILED, MARKER, decision_failed, route_flagged
from .relayhost import RelayHost, routing_warnings
from .scanner_client import CircuitBreaker
from .tls_settings import FLAGGED_ACTIONS, TlsFilterSettings, read_settings

NEEDS_TLS = Reply("530", "5.7.10", "Encryption needed: this server requires TLS (STARTTLS) for your mail")


def inbound_refusal(message: Message, settings: TlsFilterSettings) -> str | None:
    """Inbound enforcement: why a plain-text session must be refused, or None."""
    session = message.session
    if session.tls.encrypted:
        return None
    if settings.require_tls_for_auth and session.authenticated:
        return "authenticated client without TLS"
    if message.inbound and message.sender_domain in settings.require_tls_from_domains:
        return "sender domain requires TLS"
    if in_networks(session.client_addr, settings.require_tls_from_networks):
        return "client network requires TLS"
    return None


class TlsFilter:
    """Inbound enforcement (inbound_refusal, here) and, for flagged outbound mail, the
    routing decision (flagged_routing.route_flagged)."""

    name = "tls"

    def __init__(self, settings: TlsFilterSettings | None = None, services: Services | None = None) -> None:
        self.settings = settings if settings is not None else default_settings(read_settings)
        self.relay = RelayHost(self.settings.relayhost)
        # Per policy load (a reload closes it), as the scanners' breakers.
        self.breaker = CircuitBreaker("tls", "TLS classification", self.settings.breaker_failures,
                                      self.settings.breaker_cooldown)

    def decide(self, message: Message, ctx: FilterContext) -> Result | None:
        """The answer without the loop, unless flagged mail needs its recipients classified."""
        settings = self.settings
        facts = (("tls", message.session.tls.version or "none"),)
        if refused := inbound_refusal(message, settings):
            return Result(self.name, action=Action.REJECT, reply=NEEDS_TLS, facts=facts + (("tls_refused", refused),))
        if message.inbound or not ctx.flagged_categories():
            return Result(self.name, facts=facts)
        return None

    async def check(self, message: Message, ctx: FilterContext) -> Result:
        if (result := self.decide(message, ctx)) is not None:
            return result
        facts = (("tls", message.session.tls.version or "none"),)
        return await route_flagged(self.name, message, ctx, self.settings, ctx.flagged_categories(), facts,
                                   self.relay, self.breaker)

    def fail_closed(self, message: Message, ctx: FilterContext, problem: str) -> Result | None:
        """The pipeline's answer when this filter failed (time-out, exception, prepare): for
        flagged outbound mail, flagged_unknown (never on_error's accept in clear text);
        for anything else None, so on_error applies as for any filter."""
        categories = ctx.flagged_categories() if message.outbound else []
        if not categories:
            return None
        facts = (("tls", message.session.tls.version or "none"),)
        return decision_failed(self.name, message, ctx, self.settings, categories, facts, problem)

def pipeline_warnings(site: PolicyView) -> list[str]:
    """A pipeline with dlp but without tls: what dlp flags has no encrypt-only route. Not
    refused (a policy for `privacy-milter scan` needs only dlp), but said loudly. With
    both: whether Postfix routes the marker (and, with a relayhost, to the relay)."""
    if "dlp" in site.filters and "tls" not in site.filters:
        return ['[pipeline] filters has "dlp" but not "tls": messages dlp flags (tag, quarantine) get no '
                'encrypt-only route and leave like any other mail, in clear text where the next hop '
                'offers no TLS; add "tls" after "dlp"']
    if "dlp" in site.filters:
        settings = site.settings("tls")
        assert isinstance(settings, TlsFilterSettings)
        return routing_warnings(settings.relayhost)
    return []


def _build(settings: FilterSettings, services: Services) -> TlsFilter:
    assert isinstance(settings, TlsFilterSettings)
    return TlsFilter(settings, services)


FLAGGED_COUNTER = Counter("privacy_milter_flagged_outbound_total",
                          "Outbound messages with acted-on findings, by how they were routed", ("action",))
DECISION_FAILED_COUNTER = Counter("privacy_milter_flagged_tls_decision_failed",
                                  "Flagged outbound messages whose TLS decision failed (flagged_unknown "
                                  "applied; fact tls_decision=failed)")
ROUTES = frozenset(FLAGGED_ACTIONS) | {"accept", "tag"}

SYMBOLS = (
    Symbol("tls", frozenset({"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "none"}) , "the client session's TLS version"),
    Symbol("tls_refused", help="why a plain-text session was refused"),
    Symbol("flagged_route", frozenset({"local-only", "mixed"}), "flagged mail with no remote, or mixed, recipients"),
    Symbol("flagged_relay", help="the relay flagged mail leaves through"),
    Symbol("flagged_tls", help="class:count per TLS class of the remote destinations"),
    Symbol("flagged_action", ROUTES, "what was done with a flagged message", counter=FLAGGED_COUNTER,
           labels=lambda value, failed: ((value if value in ROUTES else "other",),)),
    Symbol(DECISION_FAILED[0], frozenset({DECISION_FAILED[1]}), "the TLS decision for flagged mail failed",
           counter=DECISION_FAILED_COUNTER, labels=lambda value, failed: [()] if value == DECISION_FAILED[1] else []),
)

SPEC = FilterSpec(name="tls", read=read_settings, build=_build, after=("dlp",), default=True,
                  warnings=pipeline_warnings, symbols=SYMBOLS)

__all__ = ["MARKER", "SPEC", "TlsFilter", "TlsFilterSettings", "inbound_refusal", "read_settings"]
