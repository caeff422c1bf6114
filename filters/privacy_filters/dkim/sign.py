"""Sign outbound mail: DKIM-Signature headers over the message exactly as it leaves the milter.

The caller passes the final message bytes (headers as received, byte for byte, plus every
header the other filters add, then the body as Postfix will send it) and inserts each
returned header at index 0, in the order returned. Nothing may change the message after
this: a later edit to a signed header or to the body breaks the signature.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.policy import default as default_policy

import dkim

from . import fastrsa
from .keys import SigningKey
from .settings import DkimSettings

fastrsa.install()  # rsa-sha256 through OpenSSL: the same signatures, a fraction of the CPU

log = logging.getLogger(__name__)


class SigningError(Exception):
    """dkimpy could not sign (bad key, unparsable message). `on_error` decides what follows."""


class NotSignable(Exception):
    """The message's From: does not allow signing as the given domain; the text says why."""


@dataclass(frozen=True)
class AuthorDomain:
    """The RFC 5322 From domain as DMARC aligns it (RFC 7489 §3.1 and §6.6.1), or why none."""

    domain: str | None
    reason: str


def _normalise(domain: str) -> str:
    domain = domain.strip().rstrip(".").lower()
    try:
        return domain.encode("idna").decode("ascii") if not domain.isascii() else domain
    except UnicodeError:
        return domain


# The shapes nearly every From has: "addr@domain", or "Display Name <addr@domain>" where the
# display name is plain words. For those the address and its domain are plain to see, and
# email.headerregistry (0.15 ms a call: a quarter of an RSA signature's whole CPU) would
# find the same; anything else (quotes, comments, several addresses, groups, encoded words,
# non-ASCII, obsolete syntax) goes to it. tests/unit/dkim/test_dkim_author.py compares both.
# email.headerregistry's time grows with the square of a hostile From ("a a a ...": 18 ms at
# 2,000 characters, 29 s at 100,000) and signing runs in the connection's thread, where no
# timeout can stop it. One address with its display name is far shorter than this.
MAX_FROM_CHARS = 2000
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"
_LOCAL = rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
_PHRASE = rf"[{_ATEXT}]+(?:[ \t]+[{_ATEXT}]+)*"
_PLAIN_FROM = re.compile(rf"[ \t]*(?:{_LOCAL}@(?P<bare>{_DOMAIN})|(?:{_PHRASE}[ \t]*)?<{_LOCAL}@(?P<angled>{_DOMAIN})>)[ \t]*")


def author_domain(raw: bytes) -> AuthorDomain:
    """Exactly one From field holding exactly one address with a domain, else no domain."""
    headers, _ = dkim.rfc822_parse(header_part(raw))
    froms = [value for name, value in headers if name.lower() == b"from"]
    if not froms:
        return AuthorDomain(None, "no From header")
    if len(froms) > 1:
        return AuthorDomain(None, f"{len(froms)} From headers (RFC 5322 allows one)")
    text = froms[0].decode("utf-8", "replace").replace("\r", "").replace("\n", "")
    if len(text) > MAX_FROM_CHARS:
        return AuthorDomain(None, f"From header is {len(text):,} characters long "
                                  f"(more than {MAX_FROM_CHARS:,} are not read)")
    plain = _PLAIN_FROM.fullmatch(text)
    if plain is not None:
        return _checked(plain.group("bare") or plain.group("angled"))
    return parsed_author(text)


def header_part(raw: bytes) -> bytes:
    """`raw` up to and including the empty line that ends its header: rfc822_parse finds the
    same headers in it as in the whole message (it splits lines at \\r?\\n and stops at the first
    empty one) without splitting the body into lines. No empty line: all of `raw`."""
    if raw.startswith((b"\n", b"\r\n")):
        return b""
    ends = [i for sep in (b"\n\n", b"\n\r\n") if (i := raw.find(sep)) != -1]
    return raw[:min(ends) + 1] if ends else raw


def parsed_author(text: str) -> AuthorDomain:
    """The From value (unfolded) read by email.headerregistry: any shape RFC 5322 allows."""
    try:
        header = default_policy.header_factory("From", text)
        addresses: Sequence[Address] = header.addresses
    except (HeaderParseError, IndexError, ValueError):
        return AuthorDomain(None, "From header cannot be parsed")
    if len(addresses) != 1:
        return AuthorDomain(None, f"From holds {len(addresses)} addresses (DMARC needs exactly one)")
    return _checked(addresses[0].domain or "")


def _checked(domain: str) -> AuthorDomain:
    domain = _normalise(domain)
    if not domain or "." not in domain:
        return AuthorDomain(None, "From address has no domain")
    return AuthorDomain(domain, "")


@dataclass(frozen=True)
class SigningPlan:
    """Which domain signs with which keys, or why the message is not signed."""

    domain: str | None
    keys: tuple[SigningKey, ...]
    reason: str


def plan(raw: bytes, settings: DkimSettings, is_hosted: Callable[[str], bool]) -> SigningPlan:
    """Decide whether to sign: the From domain must be a signing domain (exact match), or a
    hosted domain when `[filters.dkim.keys.default]` exists."""
    author = author_domain(raw)
    if author.domain is None:
        return SigningPlan(None, (), author.reason)
    keys = settings.keys_for(author.domain, is_hosted)
    if not keys:
        if settings.configured_keys(author.domain, is_hosted):  # only keys with active = false
            return SigningPlan(author.domain, (), f"{author.domain}'s keys are inactive")
        return SigningPlan(author.domain, (), f"{author.domain} is not a signing domain")
    return SigningPlan(author.domain, keys, "")


def include_headers(raw_headers: Sequence[tuple[bytes, bytes]], settings: DkimSettings) -> list[bytes]:
    """h= for this message: each signed name once per instance present, plus one more for an
    oversigned name that is present (so adding another breaks the signature). Names absent
    from the message are neither signed nor oversigned."""
    counts: dict[bytes, int] = {}
    for name, _ in raw_headers:
        key = name.lower()
        counts[key] = counts.get(key, 0) + 1
    names, oversign = _header_names(settings.sign_headers, settings.oversign_headers)
    out: list[bytes] = []
    for name in names:
        if n := counts.get(name, 0):
            out.extend([name] * (n + (name in oversign)))
    return out


@functools.lru_cache(maxsize=16)
def _header_names(sign_headers: tuple[str, ...], oversign_headers: tuple[str, ...]
                  ) -> tuple[tuple[bytes, ...], frozenset[bytes]]:
    """The signed names, lower case, first occurrence only, and the oversigned ones: the same
    for every message under one policy."""
    names = tuple(dict.fromkeys(h.lower().encode("ascii") for h in sign_headers))
    return names, frozenset(h.lower().encode("ascii") for h in oversign_headers)


def sign(raw: bytes, domain: str, keys: Sequence[SigningKey], settings: DkimSettings) -> list[tuple[str, str]]:
    """One (name, value) DKIM-Signature per key, value folded exactly as dkimpy made it (CRLF
    folds; libmilter wants LF: see `milter_value`). Raises NotSignable if From's domain is not
    `domain`, SigningError if dkimpy fails."""
    author = author_domain(raw)
    if author.domain is None:
        raise NotSignable(author.reason)
    if author.domain != _normalise(domain):
        raise NotSignable(f"From domain {author.domain} is not {domain}")
    return _signatures(raw, author.domain, keys, settings)


def sign_planned(raw: bytes, chosen: SigningPlan, settings: DkimSettings) -> list[tuple[str, str]]:
    """`sign` for the plan `plan(raw, ...)` made of these same bytes: its From domain is
    already found (the filter's path: one From parse per message, not two)."""
    if chosen.domain is None or not chosen.keys:
        raise NotSignable(chosen.reason or "nothing to sign with")
    return _signatures(raw, chosen.domain, chosen.keys, settings)


def _signatures(raw: bytes, domain: str, keys: Sequence[SigningKey], settings: DkimSettings) -> list[tuple[str, str]]:
    d = dkim.DKIM(raw, logger=log)
    names = include_headers(d.headers, settings)
    canon = tuple(c.encode("ascii") for c in settings.canonicalization)
    out: list[tuple[str, str]] = []
    for key in keys:
        try:
            header = d.sign(key.selector.encode("ascii"), domain.encode("ascii"), key.material,
                            signature_algorithm=key.algorithm.encode("ascii"),
                            canonicalize=canon, include_headers=names)
        except dkim.DKIMException as exc:
            raise SigningError(f"signing as {domain} with selector {key.selector} "
                               f"({key.algorithm}) failed: {exc}") from None
        name, _, value = header.decode("ascii").partition(":")
        out.append((name, value.removeprefix(" ").removesuffix("\r\n")))
    return out


def milter_value(value: str) -> str:
    """A header value for libmilter's insheader: folds as bare LF (Postfix writes CRLF on the
    wire, which restores the bytes dkimpy signed under `simple`)."""
    return value.replace("\r\n", "\n")
