"""The policy parses (with the warnings `policy check` gives), and this host's name is a
real FQDN (hostname.resolve: [store] host_name, else Postfix's myhostname)."""

from __future__ import annotations

from pathlib import Path

from .. import policy as policy_mod
from ..errors import PolicyError
from ..hostname import HostNameError, resolve
from ..policy import Policy
from ..policy_services import smtp_warnings
from .model import Finding, Setup, fail, ok, skip, warn

POLICY, HOST = "policy", "host name"


def load(path: Path) -> tuple[Policy | None, Finding]:
    """The policy, or None, and the line that says so."""
    try:
        policy = policy_mod.load(path)
    except PolicyError as exc:
        problems = list(exc.problems) or [str(exc)]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return None, fail(POLICY, f"{path} is not a usable policy: {problems[0]}{more}",
                          f"privacy-milter policy check {path}")
    said = policy_mod.milter_socket_warnings(policy.milter) + smtp_warnings(policy.smtp)
    if said:
        return policy, warn(POLICY, f"{path} parses, but: " + "; ".join(said), f"privacy-milter policy check {path}")
    return policy, ok(POLICY, f"{path} parses (filters: {', '.join(policy.filters) or 'none'})")


def host_name(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(HOST, "could not check: the policy does not parse")]
    try:
        name = resolve(setup.policy.store.host_name, setup.postfix_dir)
    except HostNameError as exc:
        return [fail(HOST, f"{exc}: the daemon refuses to start",
                     "postconf -e myhostname=mx1.example.net (or [store] host_name in the policy)")]
    return [ok(HOST, f"this host is {name}")]
