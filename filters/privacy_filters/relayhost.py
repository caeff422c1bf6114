"""Where Postfix sends remote mail: its relayhost (smarthost), when it has one.

With a relayhost, flagged mail leaves through the relay (deploy/postfix/*-relayhost.*),
so the TLS question for it is the relay's ("does relay.example:587 take TLS?"), not the
recipient domain's. [filters.tls] relayhost says where to learn it: "postfix" (the
default) asks Postfix itself (`postconf -x -h relayhost`, the one tool that knows
main.cf's defaults and $name expansion; MAIL_CONFIG names another instance), "" means
none, anything else is the next hop as Postfix writes it ("[relay.example]:587").
Asked once per policy load (a reload asks again), off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from privacy_milter.plugin import postconf

log = logging.getLogger("privacy_milter.filters.tls")

FROM_POSTFIX = "postfix"
DEFAULT_CONFIG_DIR = "/etc/postfix"  # what postconf reads unless MAIL_CONFIG says otherwise
Reader = Callable[[Sequence[str]], Mapping[str, str]]


def first_next_hop(value: str) -> str | None:
    """The first destination of a relayhost value (Postfix 3.5+ accepts a list)."""
    items = [v for v in re.split(r"[\s,]+", value.strip()) if v]
    return items[0] if items else None


class RelayHost:
    """The relay flagged mail leaves through, or None (straight to recipients' MX)."""

    def __init__(self, setting: str, read: Reader = postconf.read) -> None:
        self._setting = setting
        self._read = read
        self._asked: asyncio.Future[str | None] | None = None

    async def next_hop(self) -> str | None:
        if self._setting != FROM_POSTFIX:
            return self._setting or None
        if self._asked is None:  # one question per policy load, shared by concurrent messages
            self._asked = asyncio.ensure_future(self._ask_postfix())
        return await asyncio.shield(self._asked)

    async def _ask_postfix(self) -> str | None:
        main_cf = Path(os.environ.get("MAIL_CONFIG") or DEFAULT_CONFIG_DIR) / "main.cf"
        if self._read is postconf.read and not main_cf.exists():  # postconf would sleep 1 s, then fail
            log.warning("flagged mail: no %s, so no relayhost known; classifying recipient domains. "
                        "Set [filters.tls] relayhost to the relay (or \"\" for none) to silence this", main_cf)
            return None
        try:
            values = await asyncio.to_thread(self._read, ("relayhost",))
        except postconf.PostconfError as exc:
            log.warning("flagged mail: cannot read Postfix's relayhost (%s); classifying recipient domains. "
                        "Set [filters.tls] relayhost to the relay (or \"\" for none) to silence this", exc)
            return None
        hop = first_next_hop(values.get("relayhost", ""))
        if hop is not None:
            log.info("flagged mail: Postfix relays through %s (relayhost): its TLS is what flagged mail "
                     "needs; route it with deploy/postfix/*-relayhost.*", hop)
        return hop


# --- is Postfix routing flagged mail as this milter expects? --------------------------------------

FILTER_LINE = re.compile(r"^\s*/\^X-Privacy-Encrypt:/\S*\s+FILTER\s+(\S+)", re.IGNORECASE | re.MULTILINE)
TABLE_TYPES = ("regexp:", "pcre:")


def routing_warnings(setting: str, read: Reader = postconf.read) -> list[str]:
    """What is wrong with how Postfix routes flagged mail (for `policy check` and start-up):
    no milter_header_checks FILTER line for the marker (flagged mail leaves by the normal
    route), or, with a relay, a FILTER line without it (flagged mail bypasses the relay).
    Nothing when this is not a Postfix host (no main.cf) or postconf cannot be asked."""
    main_cf = Path(os.environ.get("MAIL_CONFIG") or DEFAULT_CONFIG_DIR) / "main.cf"
    if read is postconf.read and not main_cf.exists():
        return []
    try:
        values = read(("relayhost", "milter_header_checks"))
    except postconf.PostconfError:
        return []
    relay = first_next_hop(values.get("relayhost", "")) if setting == FROM_POSTFIX else (setting or None)
    targets, where = _filter_targets(values.get("milter_header_checks", ""))
    if not targets:
        return [f"Postfix's milter_header_checks ({where or 'empty'}) has no FILTER line for X-Privacy-Encrypt: "
                "flagged mail leaves by the normal route, in clear text where the next hop offers no TLS; "
                "see deploy/postfix/main.cf"]
    if relay is not None and any(t.lower() != f"privacy-encrypt:{relay}".lower() for t in targets):
        return [f"Postfix relays through {relay}, but {where} sends flagged mail with 'FILTER {targets[0]}', not "
                f"'FILTER privacy-encrypt:{relay}': flagged mail would bypass the relay and go to the recipients' "
                "MX; use deploy/postfix/privacy-milter-header-checks-relayhost.regexp (docs/DEPLOY.md, "
                "\"With a relayhost\")"]
    return []


def _filter_targets(tables: str) -> tuple[list[str], str]:
    """The FILTER targets of the marker's lines in the regexp/pcre files of a
    milter_header_checks value, and the files read."""
    targets: list[str] = []
    files = [t.split(":", 1)[1] for t in re.split(r"[\s,]+", tables.strip()) if t.startswith(TABLE_TYPES)]
    for name in files:
        try:
            text = Path(name).read_text(errors="replace")
        except OSError:
            continue
        targets += FILTER_LINE.findall(text)
    return targets, ", ".join(files)
