"""`[filters.dkim]` of policy.toml, validated into frozen settings (keys loaded and checked).

    [filters.dkim]
    timeout = 10.0                    # the whole check per message (every filter has it)
    on_error = "accept"               # a signing problem: "accept" unsigned (logged) or "tempfail"
    canonicalization = "relaxed/relaxed"
    sign_headers = [...]              # RFC 6376 §5.4.1 list plus the MIME headers by default
    oversign_headers = ["From", "To", "Subject", "Date"]
    authserv_id = "mx1.example.net"   # default: this host's name
    dns_timeout = 5.0                 # each key lookup
    nameserver = ""                   # "" = /etc/resolv.conf; or "127.0.0.1" / "127.0.0.1:5353"
    verify = true

    [filters.dkim.keys."example.co.uk"]       # selector = { key_file, algorithm, active }
    "2025r" = { key_file = "/etc/privacy-milter/dkim/example.co.uk.2025r.key", algorithm = "rsa-sha256" }
    "2025e" = { key_file = "/etc/privacy-milter/dkim/example.co.uk.2025e.key", algorithm = "ed25519-sha256" }

    [filters.dkim.keys.default]             # every hosted domain without its own table
    ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import cast

from privacy_milter.model import Action
from privacy_milter.plugin import FilterSettings, read_common, read_nameserver
from privacy_milter.tomlcheck import Reader

from .keys import ALGORITHMS, Algorithm, KeyProblem, SigningKey, load_key

DEFAULT_DOMAIN = "default"
CANONICALIZATIONS = ("relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple")

# RFC 6376 §5.4.1, plus the MIME headers (a changed Content-Type changes how the body reads).
SIGN_HEADERS = ("From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID", "MIME-Version",
                "Content-Type", "Content-Transfer-Encoding", "Resent-Date", "Resent-From", "Resent-To",
                "Resent-Cc", "In-Reply-To", "References", "List-Id", "List-Help", "List-Unsubscribe",
                "List-Subscribe", "List-Post", "List-Owner", "List-Archive")
OVERSIGN_HEADERS = ("From", "To", "Subject", "Date")

# RFC 6376 §5.4: relays add or rewrite these; signing them breaks the signature in transit.
NEVER_SIGN = frozenset({"return-path", "received", "comments", "keywords", "bcc", "resent-bcc",
                        "dkim-signature"})
# Oversigning forbids another instance later. Relays and lists add these legitimately, and
# Message-ID is left to whoever adds it: oversigning any of them breaks good mail.
NEVER_OVERSIGN = frozenset({"message-id", "received", "return-path", "delivered-to", "x-original-to",
                            "authentication-results", "arc-seal", "arc-message-signature",
                            "arc-authentication-results", "dkim-signature", "sender", "x-forwarded-to",
                            "x-forwarded-for", "mime-version", "content-transfer-encoding"})
NEVER_OVERSIGN_PREFIXES = ("resent-", "list-")

_HEADER_NAME = re.compile(r"[!-9;-~]+")   # RFC 5322 field name: printable ASCII except ':'
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_SELECTOR = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


@dataclass(frozen=True)
class DkimSettings(FilterSettings):
    timeout: float = 10.0
    on_error: Action = Action.ACCEPT    # what a signing problem does (never silent: logged)
    keys: Mapping[str, tuple[SigningKey, ...]] = field(default_factory=lambda: MappingProxyType({}))
    canonicalization: tuple[str, str] = ("relaxed", "relaxed")
    sign_headers: tuple[str, ...] = SIGN_HEADERS
    oversign_headers: tuple[str, ...] = OVERSIGN_HEADERS
    authserv_id: str = ""
    dns_timeout: float = 5.0
    nameserver: tuple[str, int] | None = None   # None: the daemon's resolver (/etc/resolv.conf)
    verify: bool = True

    def keys_for(self, domain: str, is_hosted: Callable[[str], bool]) -> tuple[SigningKey, ...]:
        """The active keys that sign mail From `domain`. Empty: do not sign."""
        return tuple(k for k in self.configured_keys(domain, is_hosted) if k.active)

    def configured_keys(self, domain: str, is_hosted: Callable[[str], bool]) -> tuple[SigningKey, ...]:
        """Every key configured for `domain`, active or not: its own table (exact match),
        else the default table if the domain is hosted here."""
        domain = domain.lower().rstrip(".")
        if domain in self.keys:
            return self.keys[domain]
        if DEFAULT_DOMAIN in self.keys and domain != DEFAULT_DOMAIN and is_hosted(domain):
            return self.keys[DEFAULT_DOMAIN]
        return ()


def _name_problem(name: str) -> str | None:
    return None if _HEADER_NAME.fullmatch(name) else "not a header field name"


def _sign_problem(name: str) -> str | None:
    if problem := _name_problem(name):
        return problem
    if name.lower() in NEVER_SIGN:
        return "relays add or change this header; signing it breaks signatures in transit (RFC 6376 §5.4)"
    return None


def _oversign_problem(name: str) -> str | None:
    if problem := _name_problem(name):
        return problem
    low = name.lower()
    if low in NEVER_OVERSIGN or low.startswith(NEVER_OVERSIGN_PREFIXES):
        return ("relays or lists may add this header after us; oversigning it would break "
                "good mail. Sign it (sign_headers) without oversigning")
    return None


def _read_keys(r: Reader) -> dict[str, tuple[SigningKey, ...]]:
    out: dict[str, tuple[SigningKey, ...]] = {}
    for domain in r.keys():
        table = r.table(domain)
        name = domain.lower().rstrip(".")
        if name != DEFAULT_DOMAIN and not _DOMAIN.fullmatch(name):
            table.problem("", f'not a domain name such as example.co.uk (or "{DEFAULT_DOMAIN}")')
            continue
        keys: list[SigningKey] = []
        for selector in table.keys():
            entry = table.table(selector)
            key_file = entry.string("key_file", "")
            algorithm = entry.string("algorithm", "", ALGORITHMS)
            active = entry.boolean("active", True)
            entry.done()
            if not _SELECTOR.fullmatch(selector):
                entry.problem("", "a selector is one or more DNS labels such as 2025a")
                continue
            if not key_file:
                entry.problem("key_file", "required: the private key file (dkim keygen writes one)")
            if "algorithm" not in entry:
                entry.problem("algorithm", f"required: one of {', '.join(ALGORITHMS)}")
            if not key_file or not algorithm:
                continue
            try:
                keys.append(load_key(Path(key_file), cast(Algorithm, algorithm), selector, active))
            except KeyProblem as exc:
                entry.problem("key_file", str(exc))
        table.done()
        if keys:
            out[name] = tuple(keys)
    r.done()
    return out


def read_settings(r: Reader) -> DkimSettings:
    """Read `[filters.dkim]`; every problem goes to r's Problems with its key path."""
    d = DkimSettings()
    timeout, on_error = read_common(r, d.timeout, "accept")
    canon = r.string("canonicalization", "relaxed/relaxed", CANONICALIZATIONS)
    header_canon, _, body_canon = canon.partition("/")
    sign_headers = r.strings("sign_headers", d.sign_headers, _sign_problem)
    oversign = r.strings("oversign_headers", d.oversign_headers, _oversign_problem)
    if "from" not in {h.lower() for h in sign_headers}:
        r.problem("sign_headers", "must include From (RFC 6376 §5.4)")
        sign_headers = ("From",) + sign_headers
    signed = {h.lower() for h in sign_headers}
    for name in oversign:
        if name.lower() not in signed:
            r.problem("oversign_headers", f"{name} is not in sign_headers; a header is oversigned "
                                          "only if it is signed")
    authserv_id = r.string("authserv_id", "")  # empty: this host's name (privacy_milter.hostname)
    if authserv_id and any(c in authserv_id for c in " \t;()\"\\"):
        r.problem("authserv_id", "must be a host name such as mx1.example.net (no spaces, ';' or quotes)")
        authserv_id = ""
    settings = DkimSettings(
        keys=MappingProxyType(_read_keys(r.table("keys"))),
        canonicalization=(header_canon, body_canon),
        sign_headers=sign_headers,
        oversign_headers=oversign,
        authserv_id=authserv_id,
        timeout=timeout,
        on_error=on_error,
        dns_timeout=r.number("dns_timeout", d.dns_timeout, 0.1, 60),
        nameserver=read_nameserver(r),
        verify=r.boolean("verify", d.verify),
    )
    if settings.dns_timeout >= settings.timeout:
        r.problem("dns_timeout", f"must be less than timeout ({settings.timeout:g}s): the key lookups "
                                 "happen inside the check's time")
    r.done()
    return settings
