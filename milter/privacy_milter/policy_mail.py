"""The policy sections of the mail path itself: [milter], [log], [store] and [network],
each a frozen dataclass and a reader over tomlcheck; and reading the policy file safely.
policy.py assembles them (with policy_sections.py's) into the Policy.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from .errors import PolicyError
from .hostname import problem as host_name_problem
from .policy_sections import read_mode
from .site import NetworkSettings, check_domain, check_network, domains, networks
from .tomlcheck import Reader

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


def _socket_problem(spec: str) -> str | None:
    kind, _, rest = spec.partition(":")
    if kind == "unix" and rest.startswith("/"):
        return None
    if kind in ("inet", "inet6") and rest:
        port, _, host = rest.partition("@")
        if port.isdigit() and 0 < int(port) < 65536:
            return None
    return "must look like unix:/var/spool/postfix/privacy-milter/milter.sock or inet:8890@127.0.0.1"


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


