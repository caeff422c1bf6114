"""The daemon's socket: there, with the mode and group Postfix needs, and answering the
milter protocol (one option negotiation, bounded; no message is sent)."""

from __future__ import annotations

import os
import socket
import stat
import struct
from collections.abc import Callable
from pathlib import Path

from .. import postconf
from .access import DAEMON_USER, User, allows, blocked_parent, mode_text, owner_text
from .model import Finding, Setup, fail, ok, skip, warn

ANSWER_TIMEOUT = 3.0   # a live daemon answers OPTNEG in milliseconds
SOCKET = "milter socket"
ANSWERS = "milter answers"
# OPTNEG as Postfix 3.7 sends it: protocol version 6, every action, every protocol step.
OPTNEG = b"O" + struct.pack(">III", 6, 0x1FF, 0x1FFFFF)


def unix_path(spec: str) -> Path | None:
    """The path of a libmilter socket spec "unix:/path" or "local:/path", else None."""
    kind, _, rest = spec.partition(":")
    return Path(rest) if kind in ("unix", "local") and rest else None


def inet_address(spec: str) -> tuple[str, int] | None:
    """(host, port) of "inet:PORT@HOST" (libmilter's form), else None."""
    kind, _, rest = spec.partition(":")
    if kind not in ("inet", "inet6"):
        return None
    port, _, host = rest.partition("@")
    try:
        return (host or "127.0.0.1").strip("[]"), int(port)
    except ValueError:
        return None


def postfix_user(setup: Setup) -> User | None:
    """The user Postfix's smtpd and cleanup run as (mail_owner)."""
    try:
        name = postconf.value("mail_owner", setup.postfix_dir, timeout=3.0)
    except postconf.PostconfError:
        name = "postfix"
    return User.named(name or "postfix")


def daemon_user(setup: Setup) -> User | None:
    """The user the daemon runs as: --user, else the owner of its socket (it made it),
    else the packaged daemon user if it exists."""
    if setup.daemon_user:
        return User.named(setup.daemon_user)
    if setup.policy is not None and (path := unix_path(setup.policy.milter.socket)) is not None:
        try:
            if (user := User.by_uid(path.stat().st_uid)) is not None:
                return user
        except OSError:
            pass
    return User.named(DAEMON_USER)


def check(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(SOCKET, "could not check: the policy does not parse"),
                skip(ANSWERS, "could not check: the policy does not parse")]
    spec = setup.policy.milter.socket
    if (path := unix_path(spec)) is not None:
        found = _unix_socket(path, setup)
        if found.status.value != "ok" and not path.exists():
            return [found, skip(ANSWERS, f"could not check: no socket at {path}")]
        return [found, _answers(spec, lambda: _connect_unix(path))]
    if (addr := inet_address(spec)) is not None:
        return [ok(SOCKET, f"{spec}: a TCP socket (no file permissions to check)"),
                _answers(spec, lambda: socket.create_connection(addr, timeout=ANSWER_TIMEOUT))]
    return [skip(SOCKET, f"could not check: {spec!r} is not a unix: or inet: socket"),
            skip(ANSWERS, f"could not check: {spec!r} is not a unix: or inet: socket")]


def _unix_socket(path: Path, setup: Setup) -> Finding:
    try:
        st = path.stat()
    except FileNotFoundError:
        return fail(SOCKET, f"no socket at {path}: the daemon is not running (or [milter] socket names "
                            "another path)", "systemctl start privacy-milter; journalctl -u privacy-milter")
    except OSError as exc:
        return fail(SOCKET, f"cannot stat {path}: {exc.strerror}")
    if not stat.S_ISSOCK(st.st_mode):
        return fail(SOCKET, f"{path} is not a socket", f"rm {path}; systemctl restart privacy-milter")
    pf = postfix_user(setup)
    if pf is None:
        return skip(SOCKET, f"{path} (mode {mode_text(st)}, {owner_text(st)}): could not check: "
                            "no user postfix on this host")
    where = f"{path} (mode {mode_text(st)}, owner {owner_text(st)})"
    if not allows(pf, st, 2):
        return fail(SOCKET, f"{where}: Postfix (user {pf.name}, groups {pf.group_names()}) cannot write "
                            "to it, so every message gets milter_default_action", _socket_fix(st, pf, path))
    if (parent := blocked_parent(pf, path)) is not None:
        return fail(SOCKET, f"{where}: Postfix (user {pf.name}) cannot reach it: {parent} is not searchable "
                            "for it", f"chmod o+x {parent} (or put the socket in Postfix's queue directory)")
    if st.st_mode & 0o002:
        return warn(SOCKET, f"{where}: any local user can write to it and forge records "
                            "(docs/SECURITY.md)", '[milter] socket_mode = "0660"')
    return ok(SOCKET, f"{where}: Postfix (user {pf.name}) can write to it")


def _socket_fix(st: os.stat_result, pf: User, path: Path) -> str:
    group = owner_text(st).split(":")[1]
    if not st.st_mode & 0o020:
        return '[milter] socket_mode = "0660", then systemctl restart privacy-milter'
    if st.st_gid == 0:  # made by a daemon run as root: the packaged one runs as its own user
        return (f"run the daemon as its own user (systemctl start privacy-milter), not as root; "
                f"or chgrp {pf.name} {path}")
    return f"usermod -a -G {group} {pf.name} && systemctl restart postfix"


def _connect_unix(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(ANSWER_TIMEOUT)
    try:
        s.connect(str(path))
    except OSError:
        s.close()
        raise
    return s


def _answers(spec: str, connect: Callable[[], socket.socket]) -> Finding:
    try:
        conn = connect()
    except OSError as exc:  # refused, no such file, timed out connecting
        return fail(ANSWERS, f"{spec}: cannot connect ({exc.strerror or type(exc).__name__}): the daemon "
                             "is not running", "systemctl start privacy-milter; journalctl -u privacy-milter")
    with conn:
        try:
            conn.settimeout(ANSWER_TIMEOUT)
            conn.sendall(struct.pack(">I", len(OPTNEG)) + OPTNEG)
            reply = _read_packet(conn)
        except TimeoutError:
            return fail(ANSWERS, f"{spec}: connected, but no answer to the milter handshake within "
                                 f"{ANSWER_TIMEOUT:g}s (the daemon is stuck or at max_connections)",
                        "journalctl -u privacy-milter; systemctl restart privacy-milter")
        except OSError:  # reset, or closed before a whole packet
            return fail(ANSWERS, f"{spec}: closed the connection without answering the milter handshake",
                        "journalctl -u privacy-milter")
    if reply[:1] != b"O" or len(reply) < 13:
        return fail(ANSWERS, f"{spec}: answered {reply[:1]!r}, not a milter option negotiation: is another "
                             "program on this socket?")
    version = struct.unpack(">I", reply[1:5])[0]
    return ok(ANSWERS, f"{spec}: the daemon answers (milter protocol {version})")


def _read_packet(s: socket.socket) -> bytes:
    head = _exact(s, 4)
    size = struct.unpack(">I", head)[0]
    if not 0 < size <= 65536:
        raise ConnectionError("not a milter packet")
    return _exact(s, size)


def _exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed the connection")
        buf += chunk
    return buf
