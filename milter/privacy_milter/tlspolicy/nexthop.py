"""The keys Postfix looks up in smtp_tls_policy_maps, and what we make of each.

Postfix asks with the next-hop destination, verbatim: the recipient domain
("example.com"), a transport's next hop with brackets and a port ("[mx.example.com]:587",
"[192.0.2.1]"), and, for a domain without an entry, its parent forms (".example.com")
when parent_domain_matches_subdomains lists smtp_tls_policy_maps.

Choices (docs/TLS.md):
- "domain" and "domain:port": MX lookup; DANE with TLSA at _PORT._tcp.MX; MTA-STS only on
  port 25 (RFC 8461 is about MX delivery); pins.
- "[host]" and "[host]:port": no MX lookup, so no MTA-STS; DANE on the host itself; pins
  on the verbatim key, then on the host name.
- ".parent": only a pin with exactly that key; DANE and MTA-STS are per domain and never
  answered for a whole subtree.
- "[address]" (IP literal) and anything unparseable: only a pin with the verbatim key.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from privacy_milter.tlspolicy.dnsclient import ascii_domain
from privacy_milter.tlspolicy.model import DnsLookupError


@dataclass(frozen=True)
class NextHop:
    key: str  # lower-case, trailing dot removed
    host: str | None  # A-label domain or host; None for parent forms, IP literals, garbage
    port: int = 25
    bracketed: bool = False


def parse_next_hop(key: str) -> NextHop:
    key = key.strip().lower()
    if key.endswith(".") and not key.startswith("["):
        key = key.rstrip(".")
    if not key or key.startswith("."):
        return NextHop(key, None)
    bracketed = key.startswith("[")
    if bracketed:
        inner, sep, rest = key[1:].partition("]")
        if not sep:
            return NextHop(key, None)
    else:
        inner, rest = key, ""
        head, sep, tail = key.rpartition(":")
        if sep and tail.isdigit():
            inner, rest = head, ":" + tail
    port = 25
    if rest:
        if not rest.startswith(":") or not rest[1:].isdigit() or not 0 < int(rest[1:]) < 65536:
            return NextHop(key, None)
        port = int(rest[1:])
    inner = inner.rstrip(".")
    if not inner or inner.startswith("ipv6:") or _is_ip(inner):
        return NextHop(key, None, port, bracketed)
    try:
        host = ascii_domain(inner)
    except DnsLookupError:
        return NextHop(key, None, port, bracketed)
    if "." not in host:
        return NextHop(key, None, port, bracketed)
    return NextHop(key, host, port, bracketed)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
