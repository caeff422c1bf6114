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

from dataclasses import dataclass
from typing import Any

from privacy_milter.model import Action, Direction, Message, Reply, Result
from privacy_milter.pipeline import Context
from privacy_milter.plugin import (FilterSettings, FilterSpec, IpNetwork, check_domain, check_network,
                                   default_settings, domains, in_networks, networks, read_common)
from privacy_milter.tomlcheck import Reader

from privacy_milter.tlspolicy.nexthop import parse_next_hop

from .relayhost import FROM_POSTFIX, RelayHost, routing_warnings
from .scanner_client import CircuitBreaker
from .flagged_routing import FLAGGED_ACTIONS, MARKER, decision_failed, flagged_categories, route_flagged

DECISION_SHARE = 0.8  # of the filter's timeout, at most, for the classification

NEEDS_TLS = Reply("530", "5.7.10", "Encryption needed: this server requires TLS (STARTTLS) for your mail")


@dataclass(frozen=True)
class TlsFilterSettings(FilterSettings):
    require_tls_for_auth: bool = False
    require_tls_from_domains: frozenset[str] = frozenset()
    require_tls_from_networks: tuple[IpNetwork, ...] = ()
    flagged_plaintext: str = "reject"   # a remote recipient's server offers no STARTTLS
    flagged_unknown: str = "encrypt"    # nothing known yet (no answer from its MX)
    flagged_mixed: str = "reject"       # local and remote recipients in one flagged message
    remote_transports: frozenset[str] = frozenset({"smtp", "relay"})  # {rcpt_mailer} values
    # Seconds the classification of flagged mail's recipients may take, inside `timeout`:
    # past it the decision has failed and flagged_unknown applies (never on_error).
    decision_timeout: float = 3.0
    # Where remote mail leaves: "postfix" (Postfix's relayhost, by postconf), "" (no relay:
    # the recipients' MX), or a next hop such as "[relay.example]:587". With a relay,
    # flagged mail's TLS class is the relay's (relayhost.py).
    relayhost: str = FROM_POSTFIX
    # Circuit breaker for the classification (as the scanners'): after breaker_failures failed
    # decisions in a row, flagged mail fails closed at once for breaker_cooldown seconds,
    # then one message probes. 0 turns it off.
    breaker_failures: int = 5
    breaker_cooldown: float = 30.0

    def decision_budget(self) -> float:
        """The classification's budget: decision_timeout, but always short of the filter's
        timeout, so the filter itself answers (fail closed) before the pipeline gives up."""
        return min(self.decision_timeout, self.timeout * DECISION_SHARE)


def read_settings(r: Reader) -> TlsFilterSettings:
    """[filters.tls]."""
    timeout, on_error = read_common(r, 5.0, "accept")
    known = len(r.problems.items)
    settings = TlsFilterSettings(
        timeout=timeout,
        on_error=on_error,
        require_tls_for_auth=r.boolean("require_tls_for_auth", False),
        require_tls_from_domains=domains(r.strings("require_tls_from_domains", (), check_domain)),
        require_tls_from_networks=networks(r.strings("require_tls_from_networks", (), check_network)),
        flagged_plaintext=r.string("flagged_plaintext", "reject", FLAGGED_ACTIONS),
        flagged_unknown=r.string("flagged_unknown", "encrypt", FLAGGED_ACTIONS),
        flagged_mixed=r.string("flagged_mixed", "reject", ("reject", "tempfail", "quarantine")),
        remote_transports=frozenset(r.strings("remote_transports", ("relay", "smtp"))),
        decision_timeout=r.number("decision_timeout", 3.0, 0.01, 280),
        relayhost=r.string("relayhost", FROM_POSTFIX).strip(),
        breaker_failures=r.integer("breaker_failures", 5, 0, 1000),
        breaker_cooldown=r.number("breaker_cooldown", 30.0, 1, 3600),
    )
    if settings.relayhost not in (FROM_POSTFIX, "") and parse_next_hop(settings.relayhost).host is None \
            and not settings.relayhost.startswith("["):
        r.problem("relayhost", '"postfix", "" or a next hop as Postfix writes it, such as "[relay.example]:587"')
    if "decision_timeout" in r and len(r.problems.items) == known and settings.decision_timeout >= settings.timeout:
        r.problem("decision_timeout", f"must be less than timeout ({settings.timeout:g}): the filter must "
                                      "answer for a failed decision itself")
    r.done()
    return settings


def inbound_refusal(message: Message, settings: TlsFilterSettings) -> str | None:
    """Inbound enforcement: why a plain-text session must be refused, or None."""
    session = message.session
    if session.tls.encrypted:
        return None
    if settings.require_tls_for_auth and session.authenticated:
        return "authenticated client without TLS"
    inbound = message.direction is not None and message.direction.direction is Direction.INBOUND
    if inbound and message.sender_domain in settings.require_tls_from_domains:
        return "sender domain requires TLS"
    if in_networks(session.client_addr, settings.require_tls_from_networks):
        return "client network requires TLS"
    return None


class TlsFilter:
    """Inbound enforcement (inbound_refusal, here) and, for flagged outbound mail, the
    routing decision (flagged_routing.route_flagged)."""

    name = "tls"

    def __init__(self, settings: TlsFilterSettings | None = None, services: Any = None) -> None:
        self.settings = settings if settings is not None else default_settings(read_settings)
        self.relay = RelayHost(self.settings.relayhost)
        # Per policy load (a reload closes it), as the scanners' breakers.
        self.breaker = CircuitBreaker("tls", "TLS classification", self.settings.breaker_failures,
                                      self.settings.breaker_cooldown)

    def decide(self, message: Message, ctx: Context) -> Result | None:
        """The answer without the loop, unless flagged mail needs its recipients classified."""
        settings = self.settings
        facts = (("tls", message.session.tls.version or "none"),)
        if refused := inbound_refusal(message, settings):
            return Result(self.name, action=Action.REJECT, reply=NEEDS_TLS, facts=facts + (("tls_refused", refused),))
        outbound = message.direction is not None and message.direction.direction is Direction.OUTBOUND
        if not outbound or not flagged_categories(ctx):
            return Result(self.name, facts=facts)
        return None

    async def check(self, message: Message, ctx: Context) -> Result:
        if (result := self.decide(message, ctx)) is not None:
            return result
        facts = (("tls", message.session.tls.version or "none"),)
        return await route_flagged(self.name, message, ctx, self.settings, flagged_categories(ctx), facts,
                                   self.relay, self.breaker)

    def fail_closed(self, message: Message, ctx: Context, problem: str) -> Result | None:
        """The pipeline's answer when this filter failed (time-out, exception, prepare): for
        flagged outbound mail, flagged_unknown (never on_error's accept in clear text);
        for anything else None, so on_error applies as for any filter."""
        outbound = message.direction is not None and message.direction.direction is Direction.OUTBOUND
        categories = flagged_categories(ctx) if outbound else []
        if not categories:
            return None
        facts = (("tls", message.session.tls.version or "none"),)
        return decision_failed(self.name, message, ctx, self.settings, categories, facts, problem)

def pipeline_warnings(policy: Any) -> list[str]:
    """A pipeline with dlp but without tls: what dlp flags has no encrypt-only route. Not
    refused (a policy for `privacy-milter scan` needs only dlp), but said loudly. With
    both: whether Postfix routes the marker (and, with a relayhost, to the relay)."""
    if "dlp" in policy.filters and "tls" not in policy.filters:
        return ['[pipeline] filters has "dlp" but not "tls": messages dlp flags (tag, quarantine) get no '
                'encrypt-only route and leave like any other mail, in clear text where the next hop '
                'offers no TLS; add "tls" after "dlp"']
    if "dlp" in policy.filters:
        return routing_warnings(policy.settings("tls").relayhost)
    return []


SPEC = FilterSpec(name="tls", read=read_settings, build=TlsFilter, after=("dlp",), default=True,
                  warnings=pipeline_warnings)

__all__ = ["MARKER", "SPEC", "TlsFilter", "TlsFilterSettings", "inbound_refusal", "read_settings"]
