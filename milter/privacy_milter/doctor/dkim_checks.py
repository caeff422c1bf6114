"""Every DKIM key: its file the daemon user's alone (the mode is checked when the policy
loads), and its DNS record published and matching, as `privacy-milter dkim check` says it
(its own code, run here: one line per selector)."""

from __future__ import annotations

import argparse
import asyncio
import io

from privacy_filters.dkim import cli as dkim_cli

from ..services import DnsTxt
from .access import owner_text
from .milter_checks import daemon_user
from .model import Finding, Setup, fail, ok, skip, warn

DKIM = "dkim"
BUDGET = 8.0   # all selectors together; each lookup has [filters.dkim] dns_timeout


def check(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(DKIM, "could not check: the policy does not parse")]
    if "dkim" not in setup.policy.filters:
        return [ok(DKIM, "not needed: dkim is not in [pipeline] filters")]
    settings = setup.settings("dkim")
    found = _owners(setup, settings)
    ns = settings.nameserver
    timeout = min(settings.dns_timeout, BUDGET)
    resolver = DnsTxt(ns[0], ns[1], timeout) if ns else DnsTxt(timeout=timeout)
    out = io.StringIO()
    args = argparse.Namespace(domain=None)
    asyncio.run(asyncio.wait_for(dkim_cli.check_async(args, settings, resolver, out,
                                                      hosted=setup.policy.network.hosted_domains), BUDGET))
    for line in out.getvalue().splitlines():
        word, rest = line[:9].strip(), line[9:].strip()   # check_async's "WORD(9) domain selector ..."
        if word == "ok":
            found.append(ok(DKIM, rest))
        elif "(not active yet)" in rest:
            found.append(warn(DKIM, f"{word.lower()}: {rest}", "publish the record, then drop "
                                                                        "active = false and reload"))
        elif line.startswith("no DKIM keys"):
            found.append(warn(DKIM, line, "privacy-milter dkim keygen DOMAIN SELECTOR (docs/DKIM.md)"))
        elif word == "DNS ERROR":
            found.append(fail(DKIM, f"dns error: {rest}", "check the resolver ([filters.dkim] nameserver), then "
                                                         "privacy-milter dkim check"))
        else:
            found.append(fail(DKIM, f"{word.lower()}: {rest}",
                              "publish the record `privacy-milter dkim keygen` printed (docs/DKIM.md)"))
    return found


def _owners(setup: Setup, settings: object) -> list[Finding]:
    user = daemon_user(setup)
    if user is None:
        return []
    found = []
    for table in getattr(settings, "keys", {}).values():
        for key in table:
            st = key.key_file.stat()
            if st.st_uid != user.uid:
                found.append(fail(DKIM, f"{key.key_file} belongs to {owner_text(st)}, not the daemon user "
                                        f"{user.name}: the daemon cannot read it after a restart",
                                  f"chown {user.name}: {key.key_file}"))
    return found
