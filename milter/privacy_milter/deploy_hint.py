"""Print the Postfix lines that attach this milter (used by `make run`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import policy as policy_mod
from .adapter import POSTFIX_MACRO_PARAMETERS
from .errors import PolicyError


QUEUE_DIRECTORY = "/var/spool/postfix/"


def postfix_socket(socket: str) -> str:
    """How Postfix should name our socket. Postfix daemons run chrooted in (or at least chdir
    to) the queue directory on Debian, so a socket inside it is named relative to it."""
    if socket.startswith("unix:" + QUEUE_DIRECTORY):
        return "unix:" + socket.removeprefix("unix:" + QUEUE_DIRECTORY)
    if socket.startswith("inet:"):
        port, _, host = socket.removeprefix("inet:").partition("@")
        return f"inet:{host or '127.0.0.1'}:{port}"
    return socket


def chroot_note(socket: str) -> str:
    """A unix socket outside the queue directory is out of reach of Postfix's chrooted
    services (Debian's master.cf runs smtpd with chroot y): say so, and what to do."""
    if not socket.startswith("unix:") or socket.startswith("unix:" + QUEUE_DIRECTORY):
        return ""
    return (f"# {socket.removeprefix('unix:')} is outside {QUEUE_DIRECTORY}: a chrooted smtpd (Debian's default)\n"
            "# cannot reach it. To attach such a Postfix: make run SOCKET=inet:10029@127.0.0.1\n")


def postfix_lines(socket: str) -> str:
    note, socket = chroot_note(socket), postfix_socket(socket)
    return f"""\
# Add to /etc/postfix/main.cf (then: postfix reload). Full snippet: deploy/postfix/main.cf
{note}smtpd_milters = {socket}
non_smtpd_milters = {socket}
milter_protocol = 6
milter_default_action = tempfail
{macro_lines()}"""


def macro_lines() -> str:
    return "\n".join(f"{name} = {' '.join(macros)}" for name, macros in POSTFIX_MACRO_PARAMETERS.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--socket", help="as `privacy-milter run --socket`: wins over [milter] socket")
    args = parser.parse_args(argv)
    try:
        from .registry import FILTERS  # the policy names filters: their tables are read too

        socket = policy_mod.load_with(args.policy, policy_mod.Overrides(socket=args.socket), FILTERS).milter.socket
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 78
    print(postfix_lines(socket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
