"""Outbound TLS policy: the socketmap service Postfix asks per next-hop domain, and the
classification of a recipient domain's TLS capability for flagged messages.

Path of a request, by module: netstring (codec) → socketmap (request/response) →
responder (unix socket server) → resolver (DANE, then MTA-STS, then pins) with dane,
mtasts and cache underneath; probe answers "does this MX offer STARTTLS"; service ties
them together for the daemon; query is the admin's command-line twin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import TlsClass

if TYPE_CHECKING:
    from privacy_milter.tlspolicy.service import TlsPolicyService

__all__ = ["TlsClass", "TlsPolicyConfig", "TlsPolicyService"]


def __getattr__(name: str) -> Any:
    # The service pulls in aiohttp and dnspython (a quarter of a second); commands that only
    # read the policy (`policy check`, `scan`, `stats`) should not pay for it.
    if name == "TlsPolicyService":
        from privacy_milter.tlspolicy.service import TlsPolicyService

        return TlsPolicyService
    raise AttributeError(name)
