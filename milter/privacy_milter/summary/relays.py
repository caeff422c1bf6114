"""Which `relay=` hosts in the delivery log are this host's smarthost (Postfix's `relayhost`).

With a relayhost every outbound delivery line names the smarthost in `relay=`, whatever the
recipient's domain: a copy sent there in clear text crossed one hop in clear (to the relay),
and what the relay did next is not in this log. So the summary attributes such a hop to the
relay, not to the destination domain. The relay is recognised by name: the host part of each
destination in `postconf -x -h relayhost` (`[smtp.relay.example]:587` -> `smtp.relay.example`;
also smtp_fallback_relay, and `default_transport = smtp:[relay]:587`),
which is what Postfix writes before `[address]:port` in `relay=` when the destination is in
brackets. A relayhost without brackets (`relay.example`, looked up by MX) is logged under its MX
host's name, which need not match: write it in brackets to have it recognised. Postfix is
asked rather than policy.toml, so the summary cannot disagree with what Postfix does.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from .. import postconf

log = logging.getLogger("privacy_milter.summary")

_PORT = re.compile(r":\d{1,5}$")


def parse_relayhost(value: str) -> frozenset[str]:
    """The host names in a relayhost value (a list since Postfix 3.5), lower-case, no port."""
    hosts = set()
    for item in re.split(r"[\s,]+", value.strip()):
        if not item:
            continue
        item = _PORT.sub("", item) if not item.endswith("]") else item
        host = item.strip("[]").rstrip(".").lower()
        if host:
            hosts.add(host)
    return frozenset(hosts)


def transport_nexthop(value: str) -> frozenset[str]:
    """The relay in a `transport:nexthop` value (`smtp:[relay.example]:587`), if it names one."""
    _, colon, nexthop = value.strip().partition(":")
    return parse_relayhost(nexthop) if colon and nexthop.startswith("[") else frozenset()


RELAY_PARAMETERS = ("relayhost", "smtp_fallback_relay", "default_transport")


def configured_relays(config_dir: Path | str | None = None) -> frozenset[str]:
    """This host's smarthost names, from postconf: `relayhost`, `smtp_fallback_relay` and a
    `default_transport` with a next hop in brackets (the other way to send everything through
    one relay). None (and a warning) when postconf fails: the summary then lists clear-text
    hops by destination domain, as without a relayhost."""
    try:
        values = postconf.read(RELAY_PARAMETERS, config_dir)
    except postconf.PostconfError as exc:
        log.warning("summary: cannot read Postfix's relayhost (%s); clear-text hops are listed "
                    "by destination domain, not by relay", exc)
        return frozenset()
    return (parse_relayhost(values["relayhost"]) | parse_relayhost(values["smtp_fallback_relay"])
            | transport_nexthop(values["default_transport"]))
