"""Virus: ClamAV's clamd over zINSTREAM, for customers who opted in ([customers."d"] virus).

The message is streamed from `message.raw()` in chunks (4-byte big-endian lengths, a zero
length to end), so a large message never sits in memory whole. Connection problems, timeouts,
garbage answers and clamd's own errors (such as "INSTREAM size limit exceeded") raise
ScannerError: the pipeline's on_error (default tempfail) then applies. The reply names the
signature (what admins look up), never anything from the message.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from privacy_milter.model import SPOOL_MAX_MEMORY, Action, Direction, Message, Reply, Result
from privacy_milter.pipeline import Context
from privacy_milter.plugin import FilterSettings, FilterSpec, default_settings, read_common
from privacy_milter.policy import Policy
from privacy_milter.tomlcheck import Reader

from .scanner_client import (SCANNER_ACTIONS, Breakers, BreakerOpen, EngineAnswered, ScannerError, ScannerSettings,
                             close, open_stream, read_scanner_common, scanner_address_problem, step)

__all__ = ["ScannerError", "VirusFilter", "instream", "not_scanned", "open_raw", "opted_in", "parse_answer",
           "skipped_by_breaker"]

CHUNK = 64 * 1024
MAX_ANSWER = 4096
SIGNATURE = re.compile(r"[A-Za-z0-9._:/+-]{1,100}")  # what goes into a reply or header
MARKER = "Virus"  # X-Privacy-Virus with the default prefix, for action = tag/quarantine


@dataclass(frozen=True)
class VirusFilterSettings(ScannerSettings):
    """[filters.virus]: clamd over zINSTREAM."""

    address: str = "unix:/run/clamav/clamd.ctl"
    action: Action = Action.REJECT          # what a FOUND verdict does
    max_size: int = 25 * 1024 * 1024        # bytes streamed; larger messages are not scanned (fact only)


def read_settings(r: Reader) -> VirusFilterSettings:
    """[filters.virus]."""
    d = VirusFilterSettings(timeout=30.0, on_error=Action.TEMPFAIL)
    timeout, on_error = read_common(r, d.timeout, "tempfail")
    address = r.string("address", d.address)
    if problem := scanner_address_problem(address):
        r.problem("address", problem)
        address = d.address
    connect_timeout, breaker_failures, breaker_cooldown = read_scanner_common(r, timeout)
    settings = VirusFilterSettings(
        timeout=timeout,
        on_error=on_error,
        address=address,
        action=SCANNER_ACTIONS[r.string("action", "reject", ("reject", "quarantine", "tag"))],
        max_size=r.integer("max_size_mb", 25, 1, 1024) * 1024 * 1024,
        connect_timeout=connect_timeout,
        breaker_failures=breaker_failures,
        breaker_cooldown=breaker_cooldown,
    )
    r.done()
    return settings




def opted_in(message: Message, policy: Policy, option: str) -> str | None:
    """The customer domain whose opt-in (`spam` or `virus`) covers this message, or None.

    Outbound: the sender's domain. Inbound: any hosted recipient domain (one opted-in
    recipient is enough: the verdict is per message). Direction unknown (offline scan): either.
    """
    direction = message.direction.direction if message.direction is not None else None
    candidates: list[str] = []
    if direction is not Direction.INBOUND:
        candidates.append(message.sender_domain)
    if direction is not Direction.OUTBOUND:
        candidates += [r.domain for r in message.recipients if policy.network.is_hosted(r.domain)]
    for domain in candidates:
        customer = policy.customer(domain) if domain else None
        if customer is not None and customer.opted_in(option):
            return domain
    return None


def not_scanned(name: str, message: Message, policy: Policy, max_size: int) -> Result | None:
    """The result for a message this scanner leaves alone (customer not opted in, or too
    large), or None when it must be scanned. Shared by the virus and spam checks."""
    if opted_in(message, policy, name) is None:
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
    return message.body_size + sum(len(k) + len(v) + 4 for k, v in message.headers) + 2


def parse_answer(answer: bytes) -> str | None:
    """clamd's answer to one INSTREAM: None when clean, the signature name when found."""
    text = answer.rstrip(b"\0\r\n").decode("ascii", "replace")
    _, sep, verdict = text.partition(": ")
    if not sep:
        verdict = text
    if verdict == "OK":
        return None
    if verdict.endswith(" FOUND"):
        name = verdict.removesuffix(" FOUND").strip()
        return name if SIGNATURE.fullmatch(name) else "unnamed-signature"
    if "size limit exceeded" in verdict:
        raise EngineAnswered("clamd: INSTREAM size limit exceeded (raise StreamMaxLength or lower max_size_mb)")
    if verdict.endswith(" ERROR"):
        raise EngineAnswered("clamd: scan error")
    raise ScannerError("clamd: unexpected answer")


async def instream(message: Message, address: str, timeout: float,
                   connect_timeout: float | None = None) -> str | None:
    """Stream the message to clamd; the signature name found, or None.

    clamd may answer before the stream ends (size limit) and then close: the answer is read
    concurrently, since once the connection is reset the kernel discards what was not read.
    """
    reader, writer = await open_stream(address, timeout if connect_timeout is None else connect_timeout)
    answer = asyncio.ensure_future(reader.readuntil(b"\0"))
    try:
        raw = await open_raw(message)
        try:
            writer.write(b"zINSTREAM\0")
            while not answer.done() and (chunk := raw.read(CHUNK)):
                writer.write(struct.pack(">I", len(chunk)) + chunk)
                await step(writer.drain(), timeout, "clamd: sending")
                await asyncio.sleep(0)  # let an early answer in
            if not answer.done():
                writer.write(b"\0\0\0\0")
                await step(writer.drain(), timeout, "clamd: sending")
        except (ConnectionError, OSError):
            pass  # clamd stopped reading: its answer (if any) says why
        finally:
            raw.close()
        try:
            data = await step(asyncio.shield(answer), timeout, "clamd: reading the verdict")
        except asyncio.IncompleteReadError as exc:
            data = exc.partial
            if not data:
                raise ScannerError("clamd: closed the connection without a verdict") from None
        except asyncio.LimitOverrunError:
            raise ScannerError("clamd: answer too long") from None
        except (ConnectionError, OSError):
            raise ScannerError("clamd: connection lost") from None
        return parse_answer(data[:MAX_ANSWER])
    finally:
        if not answer.done():
            answer.cancel()
        elif not answer.cancelled():
            answer.exception()  # retrieved: an error here was already reported above
        await close(writer)


def skipped_by_breaker(name: str, settings: FilterSettings) -> Result:
    """A message not sent to an engine whose breaker is open: on_error, at once."""
    return Result(name, action=settings.on_error, facts=((name, "breaker-open"),),
                  error="engine unavailable (breaker open)")


class VirusFilter:
    name = "virus"

    def __init__(self, settings: VirusFilterSettings | None = None, services: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings if settings is not None else default_settings(read_settings)
        self.breakers = Breakers(self.name, clock)

    def decide(self, message: Message, ctx: Context) -> Result | None:
        """At once for a customer who did not opt in (or a message too large); else None."""
        return not_scanned(self.name, message, ctx.policy, self.settings.max_size)

    async def check(self, message: Message, ctx: Context) -> Result:
        settings = self.settings
        if skipped := not_scanned(self.name, message, ctx.policy, settings.max_size):
            return skipped
        try:
            found = await self.breakers.call(
                settings.address, settings.breaker_failures, settings.breaker_cooldown,
                lambda: instream(message, settings.address, settings.timeout, settings.connect_timeout))
        except BreakerOpen:
            return skipped_by_breaker(self.name, settings)
        if found is None:
            return Result(self.name, facts=(("virus", "clean"),))
        facts = (("virus", found),)
        action = settings.action
        if action is Action.REJECT:
            return Result(self.name, action=action, reply=Reply("554", "5.7.1", f"Virus found ({found})"),
                          facts=facts)
        header = (f"{ctx.policy.milter.header_prefix}-{MARKER}", found)
        return Result(self.name, action=action, headers=(header,), facts=facts)


SPEC = FilterSpec(name="virus", read=read_settings, build=VirusFilter, opt_in=True)
