"""The policy sections for what runs beside the mail path: [tls_policy] (the socketmap TLS
policy service), [metrics] (Prometheus), [summary] (the weekly email) and [smtp] (how the
daemon hands over the mail it writes itself), each a frozen dataclass and a reader over
tomlcheck. Settings only (services.py holds the services); policy.py assembles them.
"""


from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from .site import check_domain
from .tlspolicy.config import TlsPolicyConfig
from .tomlcheck import Reader


def read_mode(r: Reader, key: str, default: int) -> int:
    text = r.string(key, oct(default)[2:].rjust(4, "0"))
    try:
        mode = int(text, 8)
        if not 0 <= mode <= 0o777:
            raise ValueError
    except ValueError:
        r.problem(key, f'must be an octal mode such as "0660"; got "{text}"')
        return default
    return mode


@dataclass(frozen=True)
class TlsPolicySettings:
    """[tls_policy]: the socketmap service Postfix's smtp_tls_policy_maps asks."""

    enabled: bool = True
    config: TlsPolicyConfig = TlsPolicyConfig()


@dataclass(frozen=True)
class MetricsSettings:
    """[metrics]: the Prometheus endpoint; off unless `listen` is set."""

    listen: str = ""            # "127.0.0.1:9469"
    allow_remote: bool = False  # a non-loopback address must be asked for explicitly

    @property
    def address(self) -> tuple[str, int] | None:
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.strip("[]"), int(port)


@dataclass(frozen=True)
class SummarySettings:
    """[summary]: the weekly summary email and the delivery-log reader (docs/SUMMARY.md).
    Off until a recipient is set (admins, or a customer's own)."""

    enabled: bool = False
    recipients: tuple[str, ...] = ()
    from_address: str = ""        # empty: privacy-milter@ the host name
    weekday: int = 0              # Monday = 0
    hour: int = 7
    timezone: str = "Europe/London"
    smtp_host: str = ""           # the old place of [smtp] host and port, still read
    smtp_port: int = 0            # (0 / "": not set here)
    top_n: int = 10
    customers: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    maillog: str = ""             # Postfix's log file to follow; empty: no delivery-log reader
    maillog_state: Path = Path("/var/lib/privacy-milter/maillog.pos")
    maillog_interval: float = 30.0


def _build_tls_policy(r: Reader) -> TlsPolicySettings:
    d = TlsPolicyConfig()
    pins_reader = r.table("pins")
    pins: dict[str, str] = {}
    for domain in pins_reader.keys():
        level = pins_reader.string(domain, "encrypt", ("encrypt", "secure", "dane-only"))
        if problem := check_domain(domain.lstrip(".")):
            pins_reader.problem(domain, problem)
        else:
            pins[domain] = level
    pins_reader.done()
    nameserver = r.string("nameserver", d.nameserver or "")
    if nameserver:
        try:
            ipaddress.ip_address(nameserver)
        except ValueError:
            r.problem("nameserver", "must be an IP address such as 127.0.0.1 (a local validating resolver)")
            nameserver = d.nameserver or ""
    kwargs = dict(
        socket_path=r.string("socket", d.socket_path),
        socket_mode=read_mode(r, "socket_mode", d.socket_mode),
        map_name=r.string("map_name", d.map_name),
        nameserver=nameserver or None,
        nameserver_port=r.integer("nameserver_port", d.nameserver_port, 1, 65535),
        dns_timeout=r.number("dns_timeout", d.dns_timeout, 0.1, 60),
        dane_enabled=r.boolean("dane", d.dane_enabled),
        mtasts_enabled=r.boolean("mta_sts", d.mtasts_enabled),
        mtasts_fetch_timeout=r.number("mta_sts_fetch_timeout", d.mtasts_fetch_timeout, 0.1, 120),
        mtasts_ca_file=r.string("mta_sts_ca_file", d.mtasts_ca_file or "") or None,
        mtasts_servername=r.boolean("mta_sts_servername", d.mtasts_servername),
        mtasts_stale_grace=r.number("mta_sts_stale_grace", d.mtasts_stale_grace, 0, 30 * 86400),
        probe_enabled=r.boolean("probe", d.probe_enabled),
        probe_port=r.integer("probe_port", d.probe_port, 1, 65535),
        probe_timeout=r.number("probe_timeout", d.probe_timeout, 0.1, 120),
        probe_helo=r.string("probe_helo", d.probe_helo),
        pins=pins,
    )
    enabled = r.boolean("enabled", True)
    if not str(kwargs["socket_path"]).startswith("/"):
        r.problem("socket", "must be an absolute path")
        kwargs["socket_path"] = d.socket_path
    try:
        config = TlsPolicyConfig(**kwargs)  # type: ignore[arg-type]
    except ValueError as exc:
        r.problem("", str(exc))
        config = d
    r.done()
    return TlsPolicySettings(enabled=enabled, config=config)


def _build_metrics(r: Reader) -> MetricsSettings:
    d = MetricsSettings()
    listen = r.string("listen", d.listen)
    allow_remote = r.boolean("allow_remote", d.allow_remote)
    if listen:
        host, _, port = listen.rpartition(":")
        try:
            ip = ipaddress.ip_address(host.strip("[]"))
            if not (port.isdigit() and 0 < int(port) < 65536):
                raise ValueError
        except ValueError:
            r.problem("listen", 'must be an address and port such as "127.0.0.1:9469" or "[::1]:9469"')
        else:
            if not ip.is_loopback and not allow_remote:
                r.problem("listen", "is not a loopback address: the metrics would be open to the network; "
                                    "set allow_remote = true if that is meant (and firewall the port)")
    r.done()
    return MetricsSettings(listen=listen, allow_remote=allow_remote)


def _check_address(text: str) -> str | None:
    local, at, domain = text.rpartition("@")
    if not at or not local or any(c in local for c in ' <>,;"\\') or not local.isprintable():
        return "must be a mail address such as postmaster@example.com"
    return check_domain(domain)


def _check_timezone(name: str) -> str | None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return "is not a known IANA time zone such as Europe/London"
    return None


def _build_summary(r: Reader) -> SummarySettings:
    from .scheduler import WEEKDAYS

    d = SummarySettings()
    recipients = r.strings("recipients", (), _check_address)
    sender = r.string("from", d.from_address)
    if sender and (problem := _check_address(sender)):
        r.problem("from", problem)
        sender = ""
    zone = r.string("timezone", d.timezone)
    if problem := _check_timezone(zone):
        r.problem("timezone", problem)
        zone = d.timezone
    table = r.table("customers")
    customers: dict[str, tuple[str, ...]] = {}
    for domain in table.keys():
        c = table.table(domain)
        if problem := check_domain(domain):
            table.problem(domain, problem)
        customers[domain.lower().rstrip(".")] = c.strings("recipients", (), _check_address)
        c.done()
    table.done()
    enabled = r.boolean("enabled", bool(recipients or any(customers.values())))
    if enabled and not (recipients or any(customers.values())):
        r.problem("enabled", "the summary is enabled but has no recipient: set recipients "
                             "(or a customer's recipients)")
        enabled = False
    maillog = r.string("maillog", d.maillog)
    if maillog and not maillog.startswith("/"):
        r.problem("maillog", "must be an absolute path such as /var/log/mail.log")
        maillog = ""
    settings = SummarySettings(
        enabled=enabled, recipients=recipients, from_address=sender,
        weekday=WEEKDAYS.index(r.string("weekday", WEEKDAYS[d.weekday], WEEKDAYS)),
        hour=r.integer("hour", d.hour, 0, 23), timezone=zone,
        smtp_host=r.string("smtp_host", d.smtp_host),
        smtp_port=r.integer("smtp_port", d.smtp_port, 1, 65535) if "smtp_port" in r else d.smtp_port,
        top_n=r.integer("top_n", d.top_n, 0, 1000), customers=MappingProxyType(customers),
        maillog=maillog, maillog_state=Path(r.string("maillog_state", str(d.maillog_state))),
        maillog_interval=r.number("maillog_interval", d.maillog_interval, 1, 3600))
    r.done()
    return settings


SMTP_TLS_MODES = ("none", "opportunistic", "verify")


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 or the name localhost: the mail never leaves this machine."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class SmtpSettings:
    """[smtp]: the SMTP server the daemon hands its own mail to (the weekly summary), and
    the TLS it uses there. `tls` is always one of SMTP_TLS_MODES once read: left out, it is
    "opportunistic" for a loopback host (the local Postfix, whose stock certificate is
    self-signed) and "verify" for any other (a smarthost outside this machine sees the
    summary: its certificate must be checked)."""

    host: str = "127.0.0.1"
    port: int = 25
    tls: str = "opportunistic"
    ca_file: str = ""             # verify: the CA file to trust instead of the system's
    timeout: float = 30.0
    tls_defaulted: bool = True    # tls was not set: chosen from the host (said in the log)


def default_smtp_tls(host: str) -> str:
    return "opportunistic" if is_loopback_host(host) else "verify"


def _build_smtp(r: Reader, summary: SummarySettings) -> SmtpSettings:
    d = SmtpSettings()
    for key, old in (("host", "smtp_host"), ("port", "smtp_port")):
        if key in r and getattr(summary, old):
            r.problem(key, f"is also set as [summary] {old}: keep only [smtp] {key} "
                           f"([summary] {old} is its old place)")
    host = r.string("host", summary.smtp_host or d.host)
    if not host or any(c.isspace() for c in host) or "/" in host:
        r.problem("host", "must be a host name or IP address such as 127.0.0.1 or smarthost.example.net")
        host = d.host
    port = r.integer("port", summary.smtp_port or d.port, 1, 65535)
    tls = r.string("tls", "", SMTP_TLS_MODES)
    ca_file = r.string("ca_file", d.ca_file)
    if ca_file and (tls or default_smtp_tls(host)) != "verify":
        r.problem("ca_file", 'is used only with tls = "verify" (it names the CA the server\'s certificate '
                             "must chain to)")
    elif ca_file and not ca_file.startswith("/"):
        r.problem("ca_file", "must be an absolute path such as /etc/ssl/certs/smarthost-ca.pem")
    elif ca_file and not Path(ca_file).is_file():
        r.problem("ca_file", f"{ca_file} does not exist or is not a file")
    timeout = r.number("timeout", d.timeout, 1, 600)
    r.done()
    return SmtpSettings(host=host, port=port, tls=tls or default_smtp_tls(host), ca_file=ca_file,
                        timeout=timeout, tls_defaulted=not tls)


def smtp_warnings(settings: SmtpSettings) -> list[str]:
    """What `policy check` and start-up say about [smtp]: mail to another machine without
    a verified certificate may be read or changed on the way."""
    if is_loopback_host(settings.host) or settings.tls == "verify":
        return []
    return [f'[smtp] host = "{settings.host}" is not this machine and tls = "{settings.tls}": the summary '
            "may be read or changed on the way (a stolen or spoofed smarthost name is not detected). "
            'Prefer tls = "verify" (with ca_file if its CA is private)']
