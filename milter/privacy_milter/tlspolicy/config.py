"""Every setting of the TLS policy service, typed, with a safe default.

policy.toml is mapped onto TlsPolicyConfig by the daemon; `validated()` is called in
__post_init__ so a bad value is refused at load time with the field's name.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, field

from privacy_milter.tlspolicy.model import Level

#: Pin values accepted in `pins`.
PIN_LEVELS = frozenset({Level.ENCRYPT, Level.SECURE, Level.DANE_ONLY})

#: RFC 8461 §3.2: max_age is at most 31557600 seconds (about a year).
RFC_MAX_AGE = 31557600


def _frozen_pins(pins: Mapping[str, Level | str]) -> Mapping[str, Level | str]:
    out: dict[str, Level | str] = {}
    for key, value in pins.items():
        name = key.strip().lower().rstrip(".")
        if not name or " " in name:
            raise ValueError(f"tls pins: {key!r} is not a domain")
        try:
            level = value if isinstance(value, Level) else Level(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"tls pins: {key!r} = {value!r}; use encrypt, secure or dane-only") from None
        if level not in PIN_LEVELS:
            raise ValueError(f"tls pins: {key!r} = {value!r}; use encrypt, secure or dane-only")
        out[name] = level
    return types.MappingProxyType(out)


@dataclass(frozen=True)
class TlsPolicyConfig:
    """Settings of the outbound TLS policy service (docs/TLS.md explains their effect)."""

    # --- socketmap responder -------------------------------------------------------
    socket_path: str = "/var/spool/postfix/privacy-milter/tlspolicy.sock"
    """Unix socket Postfix queries. Inside Postfix's queue directory, so chrooted smtp(8)
    processes reach it by the relative name in
    `smtp_tls_policy_maps = socketmap:unix:privacy-milter/tlspolicy.sock:tlspolicy`.
    A stale socket file at this path is removed at start (any other file is refused)."""
    socket_mode: int = 0o660
    """Permissions of the socket file; Postfix's smtp processes (user postfix) must be able
    to connect, like the milter socket next to it."""
    map_name: str = "tlspolicy"
    """The NAME in socketmap:unix:PATH:NAME. Requests for another name answer PERM, so a
    typo in main.cf shows in the mail log instead of silently disabling the policy.
    Empty string: answer every name."""
    max_request_bytes: int = 1024
    """Longest socketmap request accepted (a domain is at most 255 bytes); a longer one
    closes the connection."""
    request_timeout: float = 30.0
    """Seconds one lookup may take before it answers TEMP (the message is deferred, never
    sent with a weaker policy). An MTA-STS fetch cut off this way goes on in the
    background and is cached, so Postfix's retry is fast. Keep it above
    2 * dns_timeout + mtasts_fetch_timeout (DANE MX, MTA-STS TXT, policy fetch)."""
    max_connections: int = 512
    """Concurrent client connections; more are closed at once."""
    idle_timeout: float = 300.0
    """Seconds an idle client connection is kept open."""

    # --- DNS ----------------------------------------------------------------------------
    nameserver: str | None = "127.0.0.1"
    """Address of the local validating resolver (unbound) whose AD bit we trust for DANE.
    None: the nameservers of /etc/resolv.conf, which must then be validating and local."""
    nameserver_port: int = 53
    """Port of that resolver."""
    dns_timeout: float = 5.0
    """Seconds for one DNS lookup, all retries included."""

    # --- decisions ------------------------------------------------------------------------
    dane_enabled: bool = True
    """Look up DNSSEC-validated MX and TLSA records; a domain with usable TLSA on every MX
    gets `dane-only`, on some MX `dane`."""
    mtasts_enabled: bool = True
    """Honour MTA-STS (RFC 8461): `enforce` policies become `secure match=...`."""
    pins: Mapping[str, Level | str] = field(default_factory=lambda: types.MappingProxyType({}))
    """Domain → encrypt | secure | dane-only, used when neither DANE nor MTA-STS decided.
    A key starting with '.' (".example.com") covers all subdomains of example.com."""

    # --- MTA-STS --------------------------------------------------------------------------
    mtasts_fetch_timeout: float = 10.0
    """Seconds for fetching one policy file over HTTPS (connect, TLS, body)."""
    mtasts_ca_file: str | None = None
    """PEM bundle of CAs trusted for policy HTTPS. None: the system's CAs (production).
    Only for tests and private deployments; an ssl_context given to TlsPolicyService wins."""
    mtasts_max_policy_bytes: int = 65536
    """Largest policy file accepted (RFC 8461 suggests 64 KiB)."""
    mtasts_min_max_age: int = 0
    """Policies with a smaller max_age are cached this long anyway (avoids refetching
    on every message). 0 keeps the domain's own value."""
    mtasts_max_max_age: int = RFC_MAX_AGE
    """Policies with a larger max_age are refused (RFC bound)."""
    mtasts_refresh_interval: float = 3600.0
    """Seconds between background passes that re-check cached policies (TXT id changed or
    policy close to expiry → fetch again). 0 disables the background refresh."""
    mtasts_refresh_margin: float = 86400.0
    """A cached policy expiring within this many seconds is fetched again by the refresher."""
    mtasts_stale_grace: float = 172800.0
    """After a cached enforce policy expired and cannot be refreshed, answer TEMP (Postfix
    defers) for this long before acting as if the domain had no policy (RFC 8461 §5.1)."""
    mtasts_negative_ttl: float = 300.0
    """Seconds to remember that a domain has no usable MTA-STS policy (no TXT record, or
    the fetch failed), and to answer an expired-but-in-grace policy TEMP without refetching."""
    mtasts_servername: bool = False
    """Add `servername=hostname` to MTA-STS answers, so Postfix (3.4+) sends SNI with the
    MX host name: needed by MX hosts that serve several domains' certificates."""

    # --- classification probe ---------------------------------------------------------------
    probe_enabled: bool = True
    """Probe a domain's MX for STARTTLS (EHLO, look, QUIT; never sends mail) when
    nothing stronger is known."""
    probe_port: int = 25
    """SMTP port of the probe."""
    probe_timeout: float = 10.0
    """Seconds for one probe of one MX host (connect, banner, EHLO)."""
    probe_helo: str = "localhost"
    """Name sent in the probe's EHLO; set it to this host's public name."""
    probe_max_hosts: int = 2
    """MX hosts tried per probe, lowest preference first."""
    probe_cache_ttl: float = 86400.0
    """Seconds a probe result (or a learned delivery) is trusted."""
    probe_min_interval: float = 600.0
    """At most one probe per domain in this many seconds, even after a failed probe."""
    probe_max_concurrent: int = 8
    """Probes in flight at once, over all domains."""

    # --- memory -----------------------------------------------------------------------------
    cache_size: int = 10000
    """Entries kept by the in-memory MTA-STS cache and by the probe/learned memory."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "pins", _frozen_pins(self.pins))
        for name in ("request_timeout", "idle_timeout", "dns_timeout", "mtasts_fetch_timeout",
                     "probe_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"tls {name} must be positive")
        for name in ("max_request_bytes", "max_connections", "nameserver_port", "probe_port",
                     "probe_max_hosts", "probe_max_concurrent", "cache_size",
                     "mtasts_max_policy_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"tls {name} must be at least 1")
        for name in ("mtasts_min_max_age", "mtasts_refresh_interval", "mtasts_refresh_margin",
                     "mtasts_stale_grace", "mtasts_negative_ttl", "probe_cache_ttl",
                     "probe_min_interval"):
            if getattr(self, name) < 0:
                raise ValueError(f"tls {name} must not be negative")
        if not 0 < self.mtasts_max_max_age <= RFC_MAX_AGE:
            raise ValueError(f"tls mtasts_max_max_age must be between 1 and {RFC_MAX_AGE}")
        if not 0 <= self.socket_mode <= 0o777:
            raise ValueError("tls socket_mode must be an octal mode like 0o660")
        if not self.socket_path:
            raise ValueError("tls socket_path must not be empty")

    def pin_for(self, key: str) -> Level | None:
        """The pin for a lookup key: the exact key, else the nearest '.parent' entry."""
        key = key.lower().rstrip(".")
        found = self.pins.get(key)
        if found is None and not key.startswith((".", "[")):
            labels = key.split(".")
            for i in range(1, len(labels)):
                found = self.pins.get("." + ".".join(labels[i:]))
                if found is not None:
                    break
        if found is None:
            return None
        return found if isinstance(found, Level) else Level(found)
