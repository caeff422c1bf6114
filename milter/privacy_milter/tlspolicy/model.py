"""Value types shared by the tlspolicy modules, and their exception hierarchy."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from privacy_milter.errors import PrivacyMilterError


class TlsClass(enum.Enum):
    """What we know about a recipient domain's TLS, strongest first."""

    AUTHENTICATED = "authenticated"  # DANE, MTA-STS enforce, or a secure/dane-only pin
    TLS = "tls"  # STARTTLS offered (probe or past delivery), or an `encrypt` pin
    PLAIN = "plain"  # the MX answered without offering STARTTLS
    UNKNOWN = "unknown"  # no answer, timeout, or nothing learned yet


class TlsPolicyError(PrivacyMilterError):
    """Base class for the TLS policy service."""


class LookupTempError(TlsPolicyError):
    """A lookup failed while a policy is believed to exist: Postfix must defer, not go plain."""


class DnsLookupError(TlsPolicyError):
    """A DNS query failed (SERVFAIL, timeout, no nameserver answered)."""


class DecisionFailed(TlsPolicyError):
    """No TLS class could be decided: the policy lookup failed and nothing else is known
    (no observation, no probe answer). Flagged mail then fails closed (flagged_unknown)."""


class MtaStsError(TlsPolicyError):
    """An MTA-STS TXT record or policy file could not be fetched or is invalid."""


class Mode(enum.Enum):
    """MTA-STS policy modes (RFC 8461 §3.2)."""

    ENFORCE = "enforce"
    TESTING = "testing"
    NONE = "none"


@dataclass(frozen=True)
class MtaStsPolicy:
    """A parsed, validated MTA-STS policy file."""

    mode: Mode
    mx: tuple[str, ...]  # lower case patterns, "*.example.net" allowed
    max_age: int  # seconds

    def postfix_match(self) -> str:
        """The `match=` argument of a Postfix `secure` policy: a wildcard becomes `.parent`."""
        parts = [(p[1:] if p.startswith("*.") else p) for p in self.mx]
        return ":".join(dict.fromkeys(parts))

    def matches(self, host: str) -> bool:
        """RFC 8461 §4.1: a wildcard matches exactly one leftmost label."""
        host = host.lower().rstrip(".")
        for pattern in self.mx:
            if pattern.startswith("*."):
                label, _, rest = host.partition(".")
                if label and rest == pattern[2:]:
                    return True
            elif host == pattern:
                return True
        return False

    def to_dict(self) -> dict[str, object]:
        """Plain data for a store-backed cache."""
        return {"mode": self.mode.value, "mx": list(self.mx), "max_age": self.max_age}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MtaStsPolicy:
        mx = data["mx"]
        max_age = data["max_age"]
        if not isinstance(mx, (list, tuple)) or not isinstance(max_age, int):
            raise MtaStsError("cached MTA-STS policy has the wrong shape")
        return cls(mode=Mode(str(data["mode"])), mx=tuple(str(m) for m in mx), max_age=max_age)


class Level(enum.Enum):
    """The Postfix TLS security levels this service hands out."""

    DANE_ONLY = "dane-only"
    DANE = "dane"
    SECURE = "secure"
    ENCRYPT = "encrypt"


class Source(enum.Enum):
    """Where a decision came from (for logs, the query tool and classify)."""

    DANE = "dane"
    MTA_STS = "mta-sts"
    PIN = "pin"
    NONE = "none"


@dataclass(frozen=True)
class Decision:
    """The resolver's answer for one next-hop: a level (or None for "no policy") and why."""

    source: Source
    level: Level | None = None
    match: str | None = None  # Postfix match= list for `secure`
    servername: bool = False  # append servername=hostname (SNI with the MX name)
    detail: str = ""

    def postfix_policy(self) -> str | None:
        """The text after `OK ` in the socketmap answer, or None for NOTFOUND."""
        if self.level is None:
            return None
        words = [self.level.value]
        if self.match:
            words.append(f"match={self.match}")
        if self.servername:
            words.append("servername=hostname")
        return " ".join(words)
