"""The DNS interface DKIM needs: one async TXT lookup, injected by the caller.

`TxtResolver` is `async def txt(name: str) -> list[bytes]`: one item per TXT record at
`name`, each the record's character-strings joined without separators. An empty list
means the name exists but has no TXT record (NOERROR/NODATA). Failures must be told apart,
because a DKIM verifier answers them differently: a name that does not exist is a
permanent error for the signature, a time-out or SERVFAIL a temporary one (never "none").
"""

from __future__ import annotations

# The resolver and its errors live in the core (privacy_milter.services), which builds the
# daemon's resolver; the DKIM code only names them.
from privacy_milter.services import DnsError, DnsNameError, DnsTemporaryError, DnsTimeout, TxtResolver

__all__ = ["DnsError", "DnsNameError", "DnsTemporaryError", "DnsTimeout", "TxtResolver"]
