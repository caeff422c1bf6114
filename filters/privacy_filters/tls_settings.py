"""[filters.tls]: the tls filter's settings and their reader (tls.py is the filter,
flagged_routing.py what it does with flagged mail; both read these)."""

from __future__ import annotations

from dataclasses import dataclass

from privacy_milter.model import Action
from privacy_milter.plugin import (FilterSettings, IpNetwork, check_domain, check_network, domains, networks,
                                   parse_next_hop, read_common)
from privacy_milter.tomlcheck import Reader

from .relayhost import FROM_POSTFIX

# What to do with a flagged outbound message per what is known of the remote recipients'
# servers. "encrypt" delivers only over TLS (the marker routes it to the privacy-encrypt
# transport); Postfix defers, then bounces, if TLS cannot be had. The others act at SMTP
# time, as for any other action.
FLAGGED_ACTIONS = {"encrypt": None, "reject": Action.REJECT, "quarantine": Action.QUARANTINE,
                   "tempfail": Action.TEMPFAIL}

DECISION_SHARE = 0.8  # of the filter's timeout, at most, for the classification


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
