"""What the virus and spam checks share around their engines: the opt-in gate (only
customers who opted in are scanned, and only messages under the size limit), the result
for an engine whose breaker is open, and the filter shell that answers at once (`decide`)
for everyone else, so a customer who did not opt in never waits on an engine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import BinaryIO

from privacy_milter.model import SPOOL_MAX_MEMORY, Message, Result
from privacy_milter.plugin import Counter, FilterContext, FilterSettings, Site, default_settings
from privacy_milter.services import Services
from privacy_milter.tomlcheck import Reader

from .scanner_client import Breakers, ScannerSettings

CHUNK = 64 * 1024  # bytes per write to an engine


def opted_in(message: Message, site: Site, option: str) -> str | None:
    """The customer domain whose opt-in (`spam` or `virus`) covers this message, or None.

    Outbound: the sender's domain. Inbound: any hosted recipient domain (one opted-in
    recipient is enough: the verdict is per message).
    """
    if message.outbound:
        candidates = [message.sender_domain]
    else:
        candidates = [r.domain for r in message.recipients if site.network.is_hosted(r.domain)]
    for domain in candidates:
        customer = site.customer(domain) if domain else None
        if customer is not None and customer.opted_in(option):
            return domain
    return None


def not_scanned(name: str, message: Message, site: Site, max_size: int) -> Result | None:
    """The result for a message this scanner leaves alone (customer not opted in, or too
    large), or None when it must be scanned. Shared by the virus and spam checks."""
    if opted_in(message, site, name) is None:
        return Result(name, facts=((name, "not-opted-in"),))
    if message_size(message) > max_size:
        return Result(name, facts=((name, "too-large"),))
    return None


async def open_raw(message: Message) -> BinaryIO:
    """`message.raw()`, built off the loop when it means copying a spooled body to disk."""
    if message.source is None and message.body_size > SPOOL_MAX_MEMORY:
        return await asyncio.to_thread(message.raw)
    return message.raw()


def message_size(message: Message) -> int:
    if message.source is not None:
        return len(message.source)
    return len(message.header_block()) + message.body_size


def skipped_by_breaker(name: str, settings: FilterSettings) -> Result:
    """A message not sent to an engine whose breaker is open: on_error, at once."""
    return Result(name, action=settings.on_error, facts=((name, "breaker-open"),),
                  error="engine unavailable (breaker open)")




class OptInScanner:
    """The shell of a scanner filter: its settings, one circuit breaker per engine address,
    and the at-once answer for messages it leaves alone. A subclass sets `name`,
    `read_settings` and `check`."""

    name: str
    settings: ScannerSettings

    @staticmethod
    def read_settings(r: Reader) -> ScannerSettings:
        raise NotImplementedError

    def __init__(self, settings: ScannerSettings | None = None, services: Services | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings if settings is not None else default_settings(self.read_settings)
        self.breakers = Breakers(self.name, clock)

    def decide(self, message: Message, ctx: FilterContext) -> Result | None:
        """At once for a customer who did not opt in (or a message too large); else None."""
        return not_scanned(self.name, message, ctx.site, self.settings.max_size)


# The two scanners' outcomes, one counter: privacy_milter_scanner_results_total{scanner, result}.
SCANNER_RESULTS = Counter("privacy_milter_scanner_results_total", "Spam and virus scanner outcomes",
                          ("scanner", "result"))
SKIPPED = ("not-opted-in", "too-large", "breaker-open")  # the facts of a message not scanned
