"""The decision per next hop: DANE, then MTA-STS enforce, then pins, else no policy.

DANE comes first and MTA-STS never overrides it (RFC 8461 §2). A LookupTempError from
either lookup propagates: a policy is believed to exist, so Postfix must defer.
"""

from __future__ import annotations

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.dane import DaneChecker
from privacy_milter.tlspolicy.model import Decision, Level, Mode, Source
from privacy_milter.tlspolicy.mtasts import MtaStsResolver
from privacy_milter.tlspolicy.nexthop import NextHop, parse_next_hop


class PolicyResolver:
    def __init__(self, config: TlsPolicyConfig, dane: DaneChecker | None, mtasts: MtaStsResolver | None) -> None:
        self._config = config
        self._dane = dane if config.dane_enabled else None
        self._mtasts = mtasts if config.mtasts_enabled else None

    async def decide(self, key: str) -> Decision:
        """Raises LookupTempError when a believed policy cannot be confirmed."""
        hop = parse_next_hop(key)
        if hop.host is None:
            return self._pin(hop.key) or Decision(Source.NONE, detail="no dynamic policy for this key form")
        if self._dane is not None:
            if hop.bracketed:
                dane = await self._dane.check_hosts((hop.host,), hop.port, context=hop.key)
            else:
                dane = await self._dane.check_domain(hop.host, hop.port)
            if dane.level is not None:
                return Decision(Source.DANE, dane.level, detail=dane.detail)
        if self._mtasts is not None and not hop.bracketed and hop.port == 25:
            policy = await self._mtasts.get(hop.host)
            if policy is not None and policy.mode is Mode.ENFORCE:
                return Decision(Source.MTA_STS, Level.SECURE, match=policy.postfix_match(),
                                servername=self._config.mtasts_servername,
                                detail=f"MTA-STS enforce, max_age {policy.max_age}")
        return self._pin_for(hop) or Decision(Source.NONE, detail="no DANE, no MTA-STS enforce, no pin")

    def _pin_for(self, hop: NextHop) -> Decision | None:
        found = self._pin(hop.key)
        if found is None and hop.host is not None and hop.host != hop.key:
            found = self._pin(hop.host)
        return found

    def _pin(self, key: str) -> Decision | None:
        level = self._config.pin_for(key)
        if level is None:
            return None
        return Decision(Source.PIN, level, detail=f"pinned in policy ({key})")

    @staticmethod
    def is_authenticated(decision: Decision) -> bool:
        return decision.level in (Level.DANE_ONLY, Level.DANE, Level.SECURE)
