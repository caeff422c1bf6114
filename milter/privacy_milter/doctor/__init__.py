"""`privacy-milter doctor`: one command that checks the whole set-up, one line per check
(ok / warn / fail / skip, what is wrong and the command that fixes it), exit 0 (all ok),
1 (warnings, or something could not be checked) or 2 (failures).

One module per group of checks; each group is a function of the Setup (the policy, its
file, Postfix's configuration directory) returning its lines, run side by side under a time
bound (runner.py). Nothing is changed on the host: what does not exist yet is said, not made.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from . import (dkim_checks, engine_checks, log_checks, milter_checks, network_checks, policy_checks,
               postfix_checks, store_checks)
from ..mtasts_publish import doctor_check as mtasts_doctor
from .access import User
from .model import Finding, Setup, Status, warn
from .runner import Group, exit_code, run, write_json, write_text

__all__ = ["Finding", "GROUPS", "Setup", "Status", "add_parser", "diagnose", "main"]

DEFAULT_POLICY = Path("/etc/privacy-milter/policy.toml")

GROUPS: tuple[Group, ...] = (
    (policy_checks.HOST, policy_checks.host_name, 8.0),
    (milter_checks.SOCKET, milter_checks.check, 8.0),
    ("postfix", postfix_checks.check, 12.0),
    (network_checks.RESOLVER, network_checks.resolver, 6.0),
    (store_checks.STORE, store_checks.check, 8.0),
    (dkim_checks.DKIM, dkim_checks.check, 10.0),
    (network_checks.SMTP, network_checks.smtp, 12.0),
    (log_checks.MAILLOG, log_checks.check, 4.0),
    (engine_checks.ENGINES, engine_checks.check, 8.0),
    (mtasts_doctor.MTA_STS, mtasts_doctor.check, 12.0),  # issue 28: mtasts_publish/doctor_check.py
)


def add_parser(sub: Any) -> None:
    """`privacy-milter doctor` under the main command's sub-parsers."""
    p = sub.add_parser("doctor", help="check the whole set-up (policy, socket, Postfix, resolver, store, "
                                      "DKIM, SMTP, delivery log, scanners): one line per check; exit 0/1/2")
    p.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (default %(default)s)")
    p.add_argument("--postfix-config", type=Path, metavar="DIR",
                   help="Postfix's configuration directory (default: $MAIL_CONFIG, else /etc/postfix)")
    p.add_argument("--user", metavar="NAME",
                   help="the user the daemon runs as (default: the milter socket's owner, else privacy-milter)")
    p.add_argument("--json", action="store_true", help="one JSON object: exit and the list of checks")
    p.set_defaults(handler=main)


def diagnose(policy_path: Path, postfix_dir: Path | None = None, user: str | None = None) -> list[Finding]:
    policy, first = policy_checks.load(policy_path)
    if postfix_dir is None and os.environ.get("MAIL_CONFIG"):
        postfix_dir = Path(os.environ["MAIL_CONFIG"])
    setup = Setup(policy_path, policy, postfix_dir, user)
    said = [first]
    if user and User.named(user) is None:  # the ownership checks would silently have no one to check
        said.append(warn("daemon user", f"--user {user}: no such user on this host; ownership is not checked",
                         "--user privacy-milter (the packaged daemon's user)"))
    return [*said, *run(setup, GROUPS)]


def main(args: argparse.Namespace) -> int:
    findings = diagnose(args.policy, args.postfix_config, args.user)
    (write_json if args.json else write_text)(findings, sys.stdout)
    return exit_code(findings)
