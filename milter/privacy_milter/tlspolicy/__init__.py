"""Outbound TLS policy: the socketmap service Postfix asks per next-hop domain, and the
classification of a recipient domain's TLS capability for flagged messages.

Path of a request, by module: netstring (codec) → socketmap (request/response) →
responder (unix socket server) → resolver (DANE, then MTA-STS, then pins) with dane,
mtasts and cache underneath; probe answers "does this MX offer STARTTLS"; service ties
them together for the daemon; query is the admin's command-line twin.
"""

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.model import TlsClass
from privacy_milter.tlspolicy.service import TlsPolicyService

__all__ = ["TlsClass", "TlsPolicyConfig", "TlsPolicyService"]
