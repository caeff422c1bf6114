"""Flagged outbound mail (DLP findings acted on) must never leave in clear text: how it may leave.

Each remote recipient domain is classified by the TLS policy service (ctx.services); if all
can do TLS the message gets the X-Privacy-Encrypt marker, which Postfix's
milter_header_checks turns into FILTER to the encrypt-only transport. Otherwise
[filters.tls] flagged_plaintext / flagged_unknown / flagged_mixed decide. The tls filter
(tls.py) calls this for flagged outbound mail; its inbound rules live there.

A TLS decision that fails (the classification past its own time budget, a lookup error,
or the filter itself failing: see `decision_failed`) is never "accept in clear": it is
flagged_unknown (by default encrypt-only), recorded as the fact tls_decision=failed and
logged as a warning with the action that applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING

from privacy_milter.model import Action, Message, Recipient, Reply, Result
from privacy_milter.plugin import FilterContext, TlsClass

from .tls_settings import FLAGGED_ACTIONS, TlsFilterSettings
from .words import describe

if TYPE_CHECKING:
    from .relayhost import RelayHost
    from .scanner_client import CircuitBreaker

log = logging.getLogger("privacy_milter.filters.tls")

# The fact for a flagged message whose TLS decision failed. The weekly summary counts it
# from the store by exactly this name and value.
DECISION_FAILED = ("tls_decision", "failed")

CAN_ENCRYPT = {TlsClass.AUTHENTICATED, TlsClass.TLS}
MARKER = "Encrypt"  # X-Privacy-Encrypt with the default prefix: see deploy/postfix



async def route_flagged(name: str, message: Message, ctx: FilterContext, settings: TlsFilterSettings,
                        categories: list[str], facts: tuple[tuple[str, str], ...],
                        relay: RelayHost | None = None, breaker: CircuitBreaker | None = None) -> Result:
    """Flagged outbound mail: encrypt-only when every remote recipient's server (or, with a
    relayhost, the relay) can do TLS, else what [filters.tls] flagged_plaintext /
    flagged_unknown / flagged_mixed say."""
    remote = [r for r in message.recipients if _is_remote(r, settings, ctx)]
    local = [r for r in message.recipients if r not in remote]
    if not remote:
        return Result(name, facts=facts + (("flagged_route", "local-only"),))
    if local:
        return _act(name, settings.flagged_mixed, categories, facts + (("flagged_route", "mixed"),),
                    ctx, mixed_reply(categories))
    if breaker is not None and not breaker.allow():
        return _failed_decision(name, ctx, settings, categories, facts, remote,
                                "TLS classification breaker open: it failed "
                                f"{breaker.failures_to_open} times in a row")
    budget = settings.decision_budget()
    hop = None
    failures = ["no answer"]  # until the classification answers
    try:
        async with asyncio.timeout(budget):
            hop = await relay.next_hop() if relay is not None else None
            classes, failures = await _classify_destinations(hop, remote, ctx)
    except TimeoutError:
        return _failed_decision(name, ctx, settings, categories, _with_hop(facts, hop), remote,
                                f"TLS classification took over {budget:g}s")
    finally:
        _tell(breaker, ok=not failures)
    return _route(name, ctx, settings, categories, _with_hop(facts, hop), remote, hop, classes, failures)


async def _classify_destinations(hop: str | None, remote: list[Recipient],
                                 ctx: FilterContext) -> tuple[dict[str, TlsClass], list[str]]:
    """With a relay everything leaves through it, so its TLS is what counts; else each
    remote recipient domain's."""
    if hop is not None:
        return await _classify([hop], ctx, next_hop=True)
    return await _classify({r.domain for r in remote}, ctx)


def _with_hop(facts: tuple[tuple[str, str], ...], hop: str | None) -> tuple[tuple[str, str], ...]:
    return facts + (("flagged_relay", hop),) if hop is not None else facts


def _tell(breaker: CircuitBreaker | None, ok: bool) -> None:
    if breaker is not None:
        if ok:
            breaker.success()
        else:
            breaker.failure()


def _route(name: str, ctx: FilterContext, settings: TlsFilterSettings, categories: list[str],
           facts: tuple[tuple[str, str], ...], remote: list[Recipient], hop: str | None,
           classes: dict[str, TlsClass], failures: list[str]) -> Result:
    """The answer from the classes: plain anywhere → flagged_plaintext; a failed lookup →
    flagged_unknown as a failed decision; unknown → flagged_unknown; else encrypt-only."""
    counts = Counter(c.value for c in classes.values())
    facts = facts + (("flagged_tls", ",".join(f"{k}:{v}" for k, v in sorted(counts.items()))),)
    plain = sorted(d for d, c in classes.items() if c is TlsClass.PLAIN)
    unknown = sorted(d for d, c in classes.items() if c not in CAN_ENCRYPT and c is not TlsClass.PLAIN)
    if plain:
        if failures:
            facts = facts + (DECISION_FAILED,)
        reply = relay_reply(plain[0], categories) if hop is not None else plaintext_reply(plain, categories)
        return _act(name, settings.flagged_plaintext, categories, facts, ctx, reply)
    if failures:
        return _failed_decision(name, ctx, settings, categories, facts, remote, "; ".join(failures))
    if unknown:
        return _act(name, settings.flagged_unknown, categories, facts, ctx, unknown_reply(unknown, categories))
    return _act(name, "encrypt", categories, facts, ctx, None)


def decision_failed(name: str, message: Message, ctx: FilterContext, settings: TlsFilterSettings,
                    categories: list[str], facts: tuple[tuple[str, str], ...], problem: str) -> Result:
    """The answer for a flagged outbound message whose TLS decision failed (the tls filter's
    fail-closed hook: a time-out, an exception, a failed prepare): flagged_unknown, or
    flagged_mixed for local and remote recipients; never on_error's accept."""
    remote = [r for r in message.recipients if _is_remote(r, settings, ctx)]
    if not remote:
        return Result(name, facts=facts + (("flagged_route", "local-only"),))
    if len(remote) < len(message.recipients):
        return _act(name, settings.flagged_mixed, categories, facts + (("flagged_route", "mixed"),),
                    ctx, mixed_reply(categories))
    return _failed_decision(name, ctx, settings, categories, facts, remote, problem)


def _failed_decision(name: str, ctx: FilterContext, settings: TlsFilterSettings, categories: list[str],
                     facts: tuple[tuple[str, str], ...], remote: list[Recipient], problem: str) -> Result:
    choice = settings.flagged_unknown
    route = " (leaves over TLS or not at all)" if choice == "encrypt" else ""
    log.warning("TLS decision failed for a flagged message (%s): flagged_unknown = %s applied%s",
                problem, choice, route)
    domains = sorted({r.domain for r in remote})
    return _act(name, choice, categories, facts + (DECISION_FAILED,), ctx, unknown_reply(domains, categories))

def _act(name: str, choice: str, categories: list[str], facts: tuple[tuple[str, str], ...], ctx: FilterContext,
         reply: Reply | None) -> Result:
    action = FLAGGED_ACTIONS[choice]
    if action is None:  # encrypt: deliver only over TLS
        header = (f"{ctx.site.header_prefix}-{MARKER}", "required")
        return Result(name, headers=(header,), facts=facts + (("flagged_action", "encrypt"),))
    return Result(name, action=action, reply=reply if action is Action.REJECT else None,
                  facts=facts + (("flagged_action", choice),))


def _is_remote(recipient: Recipient, settings: TlsFilterSettings, ctx: FilterContext) -> bool:
    if recipient.mailer:
        return recipient.mailer in settings.remote_transports
    return not ctx.site.is_hosted(recipient.domain)


async def _classify(domains: Iterable[str], ctx: FilterContext,
                    next_hop: bool = False) -> tuple[dict[str, TlsClass], list[str]]:
    """Each domain's (or relay next hop's) class (UNKNOWN where it failed) and what failed,
    without found values: an exception's type and the domain (the classifier's own text
    may quote DNS data)."""
    classifier = ctx.services.tls_classifier
    names = sorted(domains)
    ask = getattr(classifier, "classify_next_hop" if next_hop else "classify", None)
    if ask is None:
        return {d: TlsClass.UNKNOWN for d in names}, []
    results = await asyncio.gather(*(ask(d) for d in names), return_exceptions=True)
    failures = [f"{d}: {type(c).__name__}" for d, c in zip(names, results) if isinstance(c, BaseException)]
    return {d: (c if isinstance(c, TlsClass) else TlsClass.UNKNOWN) for d, c in zip(names, results)}, failures


def plaintext_reply(domains: list[str], categories: list[str]) -> Reply:
    where = ", ".join(domains[:3]) + (" and others" if len(domains) > 3 else "")
    return Reply("550", "5.7.1",
                 f"The recipient's mail server ({where}) cannot receive encrypted mail, and this message "
                 f"appears to contain {describe(categories)}. It was not sent: share such details by "
                 "phone or a secure link instead")


def relay_reply(next_hop: str, categories: list[str]) -> Reply:
    host = next_hop.strip("[").split("]", 1)[0]
    return Reply("550", "5.7.1",
                 f"Our outgoing mail relay ({host}) does not offer encryption, and this message appears to "
                 f"contain {describe(categories)}. It was not sent: share such details by phone or a secure "
                 "link instead, and tell the postmaster")


def unknown_reply(domains: list[str], categories: list[str]) -> Reply:
    where = ", ".join(domains[:3]) + (" and others" if len(domains) > 3 else "")
    return Reply("550", "5.7.1",
                 f"We could not confirm that the recipient's mail server ({where}) accepts encrypted mail, "
                 f"and this message appears to contain {describe(categories)}. It was not sent")


def mixed_reply(categories: list[str]) -> Reply:
    return Reply("550", "5.7.1",
                 f"This message appears to contain {describe(categories)} and is addressed both inside "
                 "and outside the organisation. Please send it to internal and external recipients as "
                 "separate messages")
