"""DNS lookups through one validating resolver whose AD bit we trust.

We ask with RD and AD set and EDNS DO, as RFC 6840 §5.7 and Postfix do: the local
resolver (unbound) validates, and AD in its answer says "this data is DNSSEC-secure".
A bogus answer comes back from a validating resolver as SERVFAIL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.flags
import dns.name
import dns.rdatatype
import dns.resolver

from privacy_milter.tlspolicy.model import DnsLookupError

EDNS_PAYLOAD = 1232


@dataclass(frozen=True)
class DnsAnswer:
    """One RRset lookup. `exists` is False for NXDOMAIN; `records` is empty for NODATA."""

    name: str
    rdtype: str
    exists: bool
    secure: bool
    records: tuple[Any, ...]


def make_resolver(nameserver: str | None, port: int, timeout: float) -> dns.asyncresolver.Resolver:
    """A resolver that asks for DNSSEC status and never searches or caches on its own."""
    resolver = dns.asyncresolver.Resolver(configure=nameserver is None)
    if nameserver is not None:
        resolver.nameservers = [nameserver]
    resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    resolver.use_edns(0, dns.flags.DO, EDNS_PAYLOAD)
    resolver.flags = dns.flags.RD | dns.flags.AD
    resolver.cache = None
    resolver.search = []
    resolver.use_search_by_default = False
    return resolver


def to_name(domain: str) -> dns.name.Name:
    """Text → absolute DNS name (IDNA for U-labels). Raises DnsLookupError when invalid."""
    try:
        return dns.name.from_text(domain.rstrip(".") + ".")
    except (dns.exception.DNSException, UnicodeError, ValueError) as exc:
        raise DnsLookupError(f"{domain[:80]!r} is not a valid domain name ({type(exc).__name__})") from None


def ascii_domain(domain: str) -> str:
    """Lower-case A-label form without the trailing dot ("Bücher.example" → "xn--bcher-kva.example")."""
    return to_name(domain).to_text(omit_final_dot=True).lower()


class DnsClient:
    """The few lookups the TLS policy needs, with the AD bit reported per answer."""

    def __init__(self, resolver: dns.asyncresolver.Resolver) -> None:
        self._resolver = resolver

    async def query(self, name: str | dns.name.Name, rdtype: str) -> DnsAnswer:
        qname = name if isinstance(name, dns.name.Name) else to_name(name)
        text = qname.to_text(omit_final_dot=True)
        try:
            answer = await self._resolver.resolve(qname, rdtype, raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN as exc:
            response = exc.response(exc.qnames()[0]) if exc.qnames() else None
            secure = bool(response is not None and response.flags & dns.flags.AD)
            return DnsAnswer(text, rdtype, exists=False, secure=secure, records=())
        except dns.resolver.YXDOMAIN:
            raise DnsLookupError(f"{rdtype} {text}: name too long after DNAME") from None
        except dns.resolver.NoNameservers:
            raise DnsLookupError(f"{rdtype} {text}: SERVFAIL (bogus or unreachable)") from None
        except dns.exception.Timeout:
            raise DnsLookupError(f"{rdtype} {text}: timed out") from None
        except dns.exception.DNSException as exc:
            raise DnsLookupError(f"{rdtype} {text}: {type(exc).__name__}") from None
        secure = bool(answer.response.flags & dns.flags.AD)
        records = tuple(answer.rrset) if answer.rrset is not None else ()
        return DnsAnswer(text, rdtype, exists=True, secure=secure, records=records)
