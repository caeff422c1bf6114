"""TLS: the inbound session's TLS, and how flagged outbound mail may leave.

Inbound: the TLS facts (version, cipher) travel in the Session into the store and the log
line; this check refuses plain text only where policy says so (5.7.10 "encryption needed",
RFC 5248).

Outbound: a message the dlp check flagged (its findings were acted on: tag or quarantine)
must never leave in clear text. Each remote recipient domain is classified by the TLS
policy service; if all can do TLS the message gets the X-Privacy-Encrypt marker, which
Postfix's milter_header_checks turns into FILTER to the encrypt-only transport. Otherwise
[filters.tls] flagged_plaintext / flagged_unknown decide.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from privacy_milter.model import Action, Direction, Message, Recipient, Reply, Result
from privacy_milter.pipeline import Context
from privacy_milter.plugin import (FilterSettings, FilterSpec, IpNetwork, check_domain, check_network,
                                   default_settings, domains, in_networks, networks, read_common)
from privacy_milter.tlspolicy.model import TlsClass
from privacy_milter.tomlcheck import Reader

from .dlp_filter import describe

NEEDS_TLS = Reply("530", "5.7.10", "Encryption needed: this server requires TLS (STARTTLS) for your mail")
CAN_ENCRYPT = {TlsClass.AUTHENTICATED, TlsClass.TLS}
MARKER = "Encrypt"  # X-Privacy-Encrypt with the default prefix: see deploy/postfix


# What to do with a flagged outbound message (DLP findings acted on) per what is known of
# the remote recipients' servers. "encrypt" delivers only over TLS (the X-Privacy-Encrypt
# marker routes it to the privacy-encrypt transport); Postfix defers, then bounces, if TLS
# cannot be had. The others act at SMTP time, as for any other action.
FLAGGED_ACTIONS = {"encrypt": None, "reject": Action.REJECT, "quarantine": Action.QUARANTINE,
                   "tempfail": Action.TEMPFAIL}


@dataclass(frozen=True)
class TlsFilterSettings(FilterSettings):
    require_tls_for_auth: bool = False
    require_tls_from_domains: frozenset[str] = frozenset()
    require_tls_from_networks: tuple[IpNetwork, ...] = ()
    flagged_plaintext: str = "reject"   # a remote recipient's server offers no STARTTLS
    flagged_unknown: str = "encrypt"    # nothing known yet (no answer from its MX)
    flagged_mixed: str = "reject"       # local and remote recipients in one flagged message
    remote_transports: frozenset[str] = frozenset({"smtp", "relay"})  # {rcpt_mailer} values


def read_settings(r: Reader) -> TlsFilterSettings:
    """[filters.tls]."""
    timeout, on_error = read_common(r, 5.0, "accept")
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
    )
    r.done()
    return settings




class TlsFilter:
    name = "tls"

    def __init__(self, settings: TlsFilterSettings | None = None, services: Any = None) -> None:
        self.settings = settings if settings is not None else default_settings(read_settings)

    def decide(self, message: Message, ctx: Context) -> Result | None:
        """The answer without the loop, unless flagged mail needs its recipients classified."""
        settings = self.settings
        facts = (("tls", message.session.tls.version or "none"),)
        if refused := self._inbound_refusal(message, settings):
            return Result(self.name, action=Action.REJECT, reply=NEEDS_TLS, facts=facts + (("tls_refused", refused),))
        outbound = message.direction is not None and message.direction.direction is Direction.OUTBOUND
        if not outbound or not _flagged_categories(ctx):
            return Result(self.name, facts=facts)
        return None

    async def check(self, message: Message, ctx: Context) -> Result:
        if (result := self.decide(message, ctx)) is not None:
            return result
        facts = (("tls", message.session.tls.version or "none"),)
        return await self._flagged(message, ctx, self.settings, _flagged_categories(ctx), facts)

    @staticmethod
    def _inbound_refusal(message: Message, settings: TlsFilterSettings) -> str | None:
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

    async def _flagged(self, message: Message, ctx: Context, settings: TlsFilterSettings,
                       categories: list[str], facts: tuple[tuple[str, str], ...]) -> Result:
        remote = [r for r in message.recipients if _is_remote(r, settings, ctx)]
        local = [r for r in message.recipients if r not in remote]
        if not remote:
            return Result(self.name, facts=facts + (("flagged_route", "local-only"),))
        if local:
            return self._act(settings.flagged_mixed, categories, facts + (("flagged_route", "mixed"),),
                             ctx, mixed_reply(categories))
        classes = await _classify({r.domain for r in remote}, ctx)
        counts = Counter(c.value for c in classes.values())
        facts = facts + (("flagged_tls", ",".join(f"{k}:{v}" for k, v in sorted(counts.items()))),)
        plain = sorted(d for d, c in classes.items() if c is TlsClass.PLAIN)
        unknown = sorted(d for d, c in classes.items() if c not in CAN_ENCRYPT and c is not TlsClass.PLAIN)
        if plain:
            return self._act(settings.flagged_plaintext, categories, facts, ctx, plaintext_reply(plain, categories))
        if unknown:
            return self._act(settings.flagged_unknown, categories, facts, ctx, unknown_reply(unknown, categories))
        return self._act("encrypt", categories, facts, ctx, None)

    def _act(self, choice: str, categories: list[str], facts: tuple[tuple[str, str], ...], ctx: Context,
             reply: Reply | None) -> Result:
        action = FLAGGED_ACTIONS[choice]
        if action is None:  # encrypt: deliver only over TLS
            header = (f"{ctx.policy.milter.header_prefix}-{MARKER}", "required")
            return Result(self.name, headers=(header,), facts=facts + (("flagged_action", "encrypt"),))
        return Result(self.name, action=action, reply=reply if action is Action.REJECT else None,
                      facts=facts + (("flagged_action", choice),))


def _flagged_categories(ctx: Context) -> list[str]:
    acted = (Action.TAG, Action.QUARANTINE)
    return sorted({f.category for r in ctx.results if r.filter == "dlp" and r.action in acted for f in r.findings})


def _is_remote(recipient: Recipient, settings: TlsFilterSettings, ctx: Context) -> bool:
    if recipient.mailer:
        return recipient.mailer in settings.remote_transports
    return not ctx.policy.network.is_hosted(recipient.domain)


async def _classify(domains: Iterable[str], ctx: Context) -> dict[str, TlsClass]:
    classifier = ctx.services.tls_classifier
    names = sorted(domains)
    if classifier is None:
        return {d: TlsClass.UNKNOWN for d in names}
    results = await asyncio.gather(*(classifier.classify(d) for d in names), return_exceptions=True)
    return {d: (c if isinstance(c, TlsClass) else TlsClass.UNKNOWN) for d, c in zip(names, results)}


def plaintext_reply(domains: list[str], categories: list[str]) -> Reply:
    where = ", ".join(domains[:3]) + (" and others" if len(domains) > 3 else "")
    return Reply("550", "5.7.1",
                 f"The recipient's mail server ({where}) cannot receive encrypted mail, and this message "
                 f"appears to contain {describe(categories)}. It was not sent: share such details by "
                 "phone or a secure link instead")


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


SPEC = FilterSpec(name="tls", read=read_settings, build=TlsFilter, after=("dlp",), default=True)
