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

from privacy_milter import postconf

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
