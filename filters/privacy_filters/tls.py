"""Inbound TLS: what the client's session negotiated, and refusing plain text where policy says so.

The TLS facts themselves (version, cipher) travel in the Session into the store and the
log line; this check only decides. Reply code 5.7.10 is "encryption needed" (RFC 5248).
"""

from __future__ import annotations

from privacy_milter.model import Action, Direction, Message, Reply, Result
from privacy_milter.pipeline import Context
from privacy_milter.policy import in_networks

NEEDS_TLS = Reply("530", "5.7.10", "Encryption needed: this server requires TLS (STARTTLS) for your mail")


class TlsFilter:
    name = "tls"

    async def check(self, message: Message, ctx: Context) -> Result:
        settings = ctx.policy.tls
        session = message.session
        facts = (("tls", session.tls.version or "none"),)
        if session.tls.encrypted:
            return Result(self.name, facts=facts)
        reason = None
        if settings.require_tls_for_auth and session.authenticated:
            reason = "authenticated client without TLS"
        elif message.sender_domain in settings.require_tls_from_domains and \
                message.direction is not None and message.direction.direction is Direction.INBOUND:
            reason = "sender domain requires TLS"
        elif in_networks(session.client_addr, settings.require_tls_from_networks):
            reason = "client network requires TLS"
        if reason is None:
            return Result(self.name, facts=facts)
        return Result(self.name, action=Action.REJECT, reply=NEEDS_TLS,
                      facts=facts + (("tls_refused", reason),))

