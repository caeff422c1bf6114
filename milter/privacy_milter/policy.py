"""policy.toml, validated once at load into frozen, typed settings.

This module reads the core sections ([milter], [log], [store], [network], [pipeline],
[tls_policy], [customers], [metrics], [summary], [smtp]); each filter's own [filters.NAME] table is read by
that filter's module, found through the registry (plugin.FilterSpec.read). Filters never
read raw dicts: they get their settings dataclass. Every problem in the file is reported
in one go, each with its key path and line, and an invalid file is never half-applied.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from typing import Any
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType

from .errors import PolicyError
from .hostname import problem as host_name_problem
from .plugin import FilterSettings as FilterSettings  # re-exported: the base of every filter's settings
from .plugin import IpNetwork, check_domain, check_network, domains, in_networks, networks
from .tomlcheck import Problems, Reader
from .policy_services import (MetricsSettings, SmtpSettings, SummarySettings, TlsPolicySettings, _build_metrics,
                              _build_smtp, _build_summary, _build_tls_policy, read_mode)

LOG_LEVELS = ("debug", "info", "warning", "error")
@dataclass(frozen=True)
class MilterSettings:
    socket: str = "unix:/var/spool/postfix/privacy-milter/milter.sock"
    socket_mode: int = 0o660
    # Seconds a connection may stay silent before it is closed: above Postfix's smtpd_timeout
    # (300 s), since Postfix keeps its milter connection through pauses in the SMTP session.
    timeout: int = 330
    max_connections: int = 500   # past it new messages are tempfailed (and it is logged)
    allow_remote: bool = False   # allow an inet socket on a non-loopback address
    deadline: float = 60.0       # seconds the pipeline has per message; then the message is tempfailed
    header_prefix: str = "X-Privacy"


@dataclass(frozen=True)
class LogSettings:
    level: str = "info"
    file: str = ""               # empty: standard error (journald under systemd)


@dataclass(frozen=True)
class StoreSettings:
    backend: str = "sqlite"
    path: Path = Path("/var/lib/privacy-milter/metadata.db")
    key_file: Path = Path("/var/lib/privacy-milter/address.key")
    retention_days: int = 60
    flush_interval: float = 0.2  # seconds between batched writes: also what a crash may lose
    batch_size: int = 500
    host_name: str = ""          # empty: Postfix's myhostname (hostname.py); the name used everywhere
    conninfo: str = ""           # postgresql: libpq conninfo or URI, never with a password
    pool_size: int = 4
    connect_timeout: float = 5.0


@dataclass(frozen=True)
class NetworkSettings:
    hosted_domains: frozenset[str] = frozenset()
    trusted_networks: tuple[IpNetwork, ...] = (ipaddress.ip_network("127.0.0.0/8"),
                                               ipaddress.ip_network("::1/128"))
    submission_daemons: frozenset[str] = frozenset({"ORIGINATING"})

    def is_hosted(self, domain: str) -> bool:
        return any(domain == d or domain.endswith("." + d) for d in self.hosted_domains)

    def is_trusted(self, addr: str | None) -> bool:
        return in_networks(addr, self.trusted_networks)


@dataclass(frozen=True)
class CustomerSettings:
    """Per hosted domain: the filters it opted in to (`virus = true`) and the per-customer
    tables filters own (`[customers."d".dlp_actions]`), read by those filters' modules."""

    opt_in: frozenset[str] = frozenset()
    tables: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def opted_in(self, name: str) -> bool:
        return name in self.opt_in

    def table(self, key: str) -> Any:
        return self.tables.get(key)


@dataclass(frozen=True)
class Policy:
    source: str
    milter: MilterSettings
    log: LogSettings
    store: StoreSettings
    network: NetworkSettings
    filters: tuple[str, ...]                        # the pipeline, in order
    filter_settings: Mapping[str, FilterSettings]   # every known filter's, listed or not
    tls_policy: TlsPolicySettings
    customers: Mapping[str, CustomerSettings]
    metrics: MetricsSettings = MetricsSettings()
    summary: SummarySettings = SummarySettings()
    smtp: SmtpSettings = SmtpSettings()

    def customer(self, domain: str) -> CustomerSettings | None:
        domain = domain.lower()
        while domain:
            if domain in self.customers:
                return self.customers[domain]
            domain = domain.partition(".")[2]
        return None

    def settings(self, name: str) -> FilterSettings:
        """A filter's settings ([filters.NAME], defaults when the table is absent)."""
        return self.filter_settings[name]


MAX_POLICY_BYTES = 1024 * 1024


def read_policy_text(path: Path) -> str:
    """The file's text, read so that nothing can stall the reader: a symlink is followed, but
    only to a regular file (a FIFO or device is refused without blocking, thanks to
    O_NONBLOCK), and a file over MAX_POLICY_BYTES is refused."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise PolicyError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise PolicyError(str(path), [f"{path}: not a regular file (a policy must be a plain file, "
                                          "or a symlink to one)"])
        if st.st_size > MAX_POLICY_BYTES:
            raise PolicyError(str(path), [f"{path}: {st.st_size} bytes, over the limit of "
                                          f"{MAX_POLICY_BYTES} bytes for a policy file"])
        data = f.read(MAX_POLICY_BYTES + 1)  # the file may grow after fstat
    if len(data) > MAX_POLICY_BYTES:
        raise PolicyError(str(path), [f"{path}: over the limit of {MAX_POLICY_BYTES} bytes for a policy file"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyError(str(path), [f"cannot read the file: not UTF-8 ({exc.reason} at byte {exc.start})"]) from None


def load(path: str | Path) -> Policy:
    """Read and validate a policy file. Raises PolicyError listing every problem."""
    path = Path(path)
    return parse(read_policy_text(path), str(path))


def parse(text: str, source: str = "policy.toml") -> Policy:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, [f"{source}: not valid TOML: {exc}"]) from None
    problems = Problems(source, text)
    policy = _build(Reader(data, (), problems), source)
    if problems.items:
        raise PolicyError(source, problems.render())
    return policy


@dataclass(frozen=True)
class Overrides:
    """Command-line settings that win over the policy file, on start and on every reload."""

    socket: str | None = None
    store: Path | None = None
    host_name: str | None = None  # the name resolved at start (hostname.resolve), kept across reloads

    def apply(self, policy: Policy) -> Policy:
        if self.socket:
            policy = replace(policy, milter=replace(policy.milter, socket=self.socket))
        if self.store:
            policy = replace(policy, store=replace(policy.store, path=self.store))
        if self.host_name:
            policy = replace(policy, store=replace(policy.store, host_name=self.host_name))
        return policy


def load_with(path: Path, overrides: Overrides) -> Policy:
    return overrides.apply(load(path))


def default() -> Policy:
    return parse("", "(built-in defaults)")


# --- building --------------------------------------------------------------------------

def _socket_problem(spec: str) -> str | None:
    kind, _, rest = spec.partition(":")
    if kind == "unix" and rest.startswith("/"):
        return None
    if kind in ("inet", "inet6") and rest:
        port, _, host = rest.partition("@")
        if port.isdigit() and 0 < int(port) < 65536:
            return None
    return "must look like unix:/var/spool/postfix/privacy-milter/milter.sock or inet:8890@127.0.0.1"


def _build(top: Reader, source: str) -> Policy:
    from .registry import FILTERS  # the filters this build knows; they import the core, not we them

    milter = _build_milter(top.table("milter"))
    log = _build_log(top.table("log"))
    store = _build_store(top.table("store"))
    network = _build_network(top.table("network"))
    pipeline = top.table("pipeline")
    known = ", ".join(FILTERS)
    names = pipeline.strings("filters", [s.name for s in FILTERS.values() if s.default],
                             check=lambda n: None if n in FILTERS else f"unknown filter; known: {known}")
    if len(set(names)) != len(names):
        pipeline.problem("filters", "lists a filter twice")
    for name in names:
        for before in FILTERS[name].after if name in FILTERS else ():
            if before in names and names.index(before) > names.index(name):
                pipeline.problem("filters", f'"{name}" must come after "{before}": it acts on what {before} found')
    pipeline.done()
    tables = top.table("filters")
    for name in tables.keys():
        if name not in FILTERS:
            tables.problem(name, f"unknown filter; known: {known}")
            tables.table(name)  # mark as read: the problem is already reported
    settings = MappingProxyType({name: spec.read(tables.table(name)) for name, spec in FILTERS.items()})
    tables.done()
    tls_policy = _build_tls_policy(top.table("tls_policy"))
    customers = _build_customers(top.table("customers"))
    metrics = _build_metrics(top.table("metrics"))
    summary = _build_summary(top.table("summary"))
    smtp = _build_smtp(top.table("smtp"), summary)
    top.done()
    return Policy(source=source, milter=milter, log=log, store=store, network=network, filters=names,
                  filter_settings=settings, tls_policy=tls_policy, customers=customers, metrics=metrics,
                  summary=summary, smtp=smtp)


def _build_milter(r: Reader) -> MilterSettings:
    d = MilterSettings()
    socket = r.string("socket", d.socket)
    if problem := _socket_problem(socket):
        r.problem("socket", problem)
    settings = MilterSettings(
        socket=socket,
        socket_mode=read_mode(r, "socket_mode", d.socket_mode),
        timeout=r.integer("timeout", d.timeout, 1, 3600),
        max_connections=r.integer("max_connections", d.max_connections, 1, 100000),
        allow_remote=r.boolean("allow_remote", d.allow_remote),
        deadline=r.number("deadline", d.deadline, 1, 290),
        header_prefix=r.string("header_prefix", d.header_prefix),
    )
    if not settings.header_prefix.startswith("X-") or " " in settings.header_prefix:
        r.problem("header_prefix", 'must start with "X-" and contain no spaces')
    host = inet_socket_host(socket)
    if host is not None and not _is_loopback(host) and not settings.allow_remote:
        r.problem("socket", f'listens on {host or "every address"}, not loopback: anyone who can reach it '
                            "can forge records. Use a unix socket or inet:PORT@127.0.0.1, or set "
                            "allow_remote = true and firewall it")
    r.done()
    return settings


def inet_socket_host(spec: str) -> str | None:
    """The host of an inet/inet6 milter socket ("" means every address); None for unix."""
    kind, _, rest = spec.partition(":")
    if kind not in ("inet", "inet6"):
        return None
    return rest.partition("@")[2].strip("[]")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name, or "" (every address)


def milter_socket_warnings(settings: MilterSettings) -> list[str]:
    """What `policy check` and start-up say about a milter socket that is not a unix one."""
    host = inet_socket_host(settings.socket)
    if host is None:
        return []
    return [f"[milter] socket = \"{settings.socket}\" is a TCP socket: it has no access control, any "
            "local user (or remote host, if not loopback) can connect and inject forged records. "
            "Prefer a unix socket with socket_mode 0660 and group postfix (docs/SECURITY.md)"]


def _build_log(r: Reader) -> LogSettings:
    d = LogSettings()
    settings = LogSettings(level=r.string("level", d.level, LOG_LEVELS), file=r.string("file", d.file))
    r.done()
    return settings


def _build_store(r: Reader) -> StoreSettings:
    d = StoreSettings()
    settings = StoreSettings(
        backend=r.string("backend", d.backend, ("sqlite", "postgresql")),
        path=Path(r.string("path", str(d.path))),
        key_file=Path(r.string("key_file", str(d.key_file))),
        retention_days=r.integer("retention_days", d.retention_days, 1, 3650),
        flush_interval=r.number("flush_interval", d.flush_interval, 0.05, 60),
        batch_size=r.integer("batch_size", d.batch_size, 1, 100_000),
        host_name=r.string("host_name", d.host_name),
        conninfo=r.string("conninfo", d.conninfo),
        pool_size=r.integer("pool_size", d.pool_size, 1, 100),
        connect_timeout=r.number("connect_timeout", d.connect_timeout, 0.5, 120),
    )
    if settings.host_name and (why := host_name_problem(settings.host_name)):
        r.problem("host_name", f"{why}; e.g. \"mx1.example.net\" (or leave it out: Postfix's myhostname)")
    if settings.backend == "postgresql":
        if not settings.conninfo:
            r.problem("conninfo", 'backend = "postgresql" needs conninfo = "host=... dbname=... user=... '
                                  'passfile=..."')
        elif problem := conninfo_problem(settings.conninfo):
            r.problem("conninfo", problem)
    r.done()
    return settings


def conninfo_problem(conninfo: str) -> str | None:
    """Why a PostgreSQL connection string is refused, or None. Never quotes the string: a
    password in it must not reach a log or an error message."""
    try:
        from psycopg.conninfo import conninfo_to_dict
    except ImportError:
        return "the postgresql backend needs psycopg (pip install 'psycopg[binary,pool]')"
    try:
        params = conninfo_to_dict(conninfo)
    except Exception:  # libpq's own message may quote the string: say only that it is invalid
        return "is not a valid libpq connection string or URI (the value is not shown)"
    if params.get("password"):
        return ("contains a password: remove it and put it in a passfile (passfile=/etc/privacy-milter/pgpass, "
                "mode 0600; see docs/DEPLOY.md); the value is not shown")
    return None


def _build_network(r: Reader) -> NetworkSettings:
    d = NetworkSettings()
    settings = NetworkSettings(
        hosted_domains=domains(r.strings("hosted_domains", (), check_domain)),
        trusted_networks=networks(r.strings("trusted_networks", [str(n) for n in d.trusted_networks],
                                             check_network)),
        submission_daemons=frozenset(r.strings("submission_daemons", sorted(d.submission_daemons))),
    )
    r.done()
    return settings


def _build_customers(r: Reader) -> Mapping[str, CustomerSettings]:
    from .registry import FILTERS

    opt_ins = [spec.name for spec in FILTERS.values() if spec.opt_in]
    owned = {key: reader for spec in FILTERS.values() for key, reader in spec.customer_tables.items()}
    customers: dict[str, CustomerSettings] = {}
    for domain in r.keys():
        c = r.table(domain)
        if problem := check_domain(domain):
            r.problem(domain, problem)
        customers[domain.lower().rstrip(".")] = CustomerSettings(
            opt_in=frozenset(name for name in opt_ins if c.boolean(name, False)),
            tables=MappingProxyType({key: reader(c.table(key)) for key, reader in owned.items()}),
        )
        c.done()
    r.done()
    return MappingProxyType(customers)
