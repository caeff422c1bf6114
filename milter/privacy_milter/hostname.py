"""This host's name: the one name every part of the daemon uses for itself.

The store's host column, the DKIM Authentication-Results authserv-id, the summary's From,
the HELO of the daemon's own mail and the host of the delivery-log rows must agree, or the
summary splits one machine into two. `socket.getfqdn()` is no source for it: on a stock
Debian host it says `localhost` (the name resolves through /etc/hosts to 127.0.0.1). The
name Postfix uses is the one an admin already set and recognises in its logs, so:

    [store] host_name if set, else Postfix's `myhostname` (postconf: /etc/postfix, or the
    instance $MAIL_CONFIG names), else socket.getfqdn()

and a name that is `localhost`, `*.localdomain` (Postfix's own fallback) or has no dot is
refused with what to set, because records and headers would then name no real machine.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

from . import postconf
from .errors import PrivacyMilterError
from .postconf import PostconfError

_LABELS = re.compile(r"(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*")
PLACEHOLDERS = ("localhost", "localhost.localdomain", "localdomain")
EXAMPLE = 'host_name = "mx1.example.net"'


class HostNameError(PrivacyMilterError):
    """No usable name for this host; the text says where each candidate came from."""


def problem(name: str) -> str | None:
    """Why `name` cannot name this host in records and headers, or None."""
    name = name.lower().rstrip(".")
    if not _LABELS.fullmatch(name):
        return "is not a host name (letters, digits, '-', '_' and dots)"
    if name in PLACEHOLDERS or name.startswith("localhost.") or name.endswith(".localdomain"):
        return "is a placeholder, not this machine's name (records and headers would name no real host)"
    if "." not in name:
        return "has no dot: a fully qualified name such as mx1.example.net is needed"
    return None


def resolve(configured: str = "", config_dir: Path | str | None = None) -> str:
    """The host name (lower case, no trailing dot), or HostNameError saying what to set."""
    if configured:
        if why := problem(configured):
            raise HostNameError(f'[store] host_name = "{configured}" {why}; set {EXAMPLE}')
        return configured.lower().rstrip(".")
    said: list[str] = []
    try:
        name = postconf.value("myhostname", config_dir)
    except PostconfError as exc:
        said.append(f"Postfix's myhostname: unknown ({exc})")
    else:
        if not (why := problem(name)):
            return name.lower().rstrip(".")
        said.append(f'Postfix\'s myhostname "{name}" {why}')
    fqdn = socket.getfqdn()
    if not (why := problem(fqdn)):
        return fqdn.lower().rstrip(".")
    said.append(f'socket.getfqdn() "{fqdn}" {why}')
    raise HostNameError("cannot tell this host's name: " + "; ".join(said) +
                        f". Set myhostname in Postfix's main.cf (postconf -e myhostname=mx1.example.net), "
                        f"or [store] {EXAMPLE} in the policy")


def best_effort(configured: str = "") -> str:
    """For tools that only read the store (stats, subject, purge): the resolved name, or
    socket.getfqdn() when there is none; they write no record that would carry it."""
    try:
        return resolve(configured)
    except HostNameError:
        return socket.getfqdn()
