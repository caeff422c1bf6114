"""The DNS interface DKIM needs: one async TXT lookup, injected by the caller.

`TxtResolver` is `async def txt(name: str) -> list[bytes]`: one item per TXT record at
`name`, each the record's character-strings joined without separators. An empty list
means the name exists but has no TXT record (NOERROR/NODATA). Failures must be told apart,
because a DKIM verifier answers them differently: a name that does not exist is a
permanent error for the signature, a time-out or SERVFAIL a temporary one (never "none").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

TxtResolver = Callable[[str], Awaitable[list[bytes]]]


class DnsError(Exception):
    """Base of the lookup failures a TxtResolver may raise."""


class DnsTemporaryError(DnsError):
    """Time-out, SERVFAIL, no server reachable: ask again later."""


class DnsNameError(DnsError):
    """NXDOMAIN: the name does not exist."""
