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
import socket
import struct
from dataclasses import dataclass

from privacy_milter.model import Action, Message, Reply, Result
from privacy_milter.plugin import FilterContext, FilterSettings, FilterSpec, Symbol, read_common
from privacy_milter.services import Services
from privacy_milter.tomlcheck import Reader

from .optin_scanner import (CHUNK, SCANNER_RESULTS, SKIPPED, OptInScanner, not_scanned, open_raw, opted_in,
                            skipped_by_breaker)
from .scanner_client import (SCANNER_ACTIONS, BreakerOpen, EngineAnswered, ScannerError, ScannerSettings,
                             open_socket, read_scanner_common, scanner_address_problem, step)

__all__ = ["ScannerError", "VirusFilter", "instream", "not_scanned", "open_raw", "opted_in", "parse_answer",
           "skipped_by_breaker"]

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

    clamd may answer before the stream ends (size limit) and then close. The answer is read
    concurrently, on a plain socket: a send that fails because clamd closed leaves its answer
    readable, where a stream transport would close both ways and lose it ("connection lost"
    instead of "size limit", seen under load).
    """
    sock = await open_socket(address, timeout if connect_timeout is None else connect_timeout)
    loop = asyncio.get_running_loop()
    answer = asyncio.ensure_future(_read_answer(loop, sock))
    try:
        raw = await open_raw(message)
        try:
            await step(loop.sock_sendall(sock, b"zINSTREAM\0"), timeout, "clamd: sending")
            while not answer.done() and (chunk := raw.read(CHUNK)):
                await step(loop.sock_sendall(sock, struct.pack(">I", len(chunk)) + chunk), timeout,
                           "clamd: sending")
            if not answer.done():
                await step(loop.sock_sendall(sock, b"\0\0\0\0"), timeout, "clamd: sending")
        except (ConnectionError, OSError):
            pass  # clamd stopped reading: its answer (if any) says why
        finally:
            raw.close()
        try:
            data = await step(asyncio.shield(answer), timeout, "clamd: reading the verdict")
        except (ConnectionError, OSError):
            raise ScannerError("clamd: connection lost") from None
        if not data:
            raise ScannerError("clamd: closed the connection without a verdict")
        if b"\0" not in data and len(data) >= MAX_ANSWER:
            raise ScannerError("clamd: answer too long")
        return parse_answer(data.partition(b"\0")[0])
    finally:
        if not answer.done():
            answer.cancel()
        elif not answer.cancelled():
            answer.exception()  # retrieved: an error here was already reported above
        sock.close()


async def _read_answer(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> bytes:
    """clamd's answer up to its NUL (at most MAX_ANSWER bytes), or what came before it closed."""
    data = b""
    while b"\0" not in data and len(data) < MAX_ANSWER:
        chunk = await loop.sock_recv(sock, MAX_ANSWER)
        if not chunk:
            break
        data += chunk
    return data


class VirusFilter(OptInScanner):
    name = "virus"
    settings: VirusFilterSettings

    @staticmethod
    def read_settings(r: Reader) -> VirusFilterSettings:
        return read_settings(r)

    async def check(self, message: Message, ctx: FilterContext) -> Result:
        settings = self.settings
        if skipped := not_scanned(self.name, message, ctx.site, settings.max_size):
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
        header = (f"{ctx.site.header_prefix}-{MARKER}", found)
        return Result(self.name, action=action, headers=(header,), facts=facts)


def _build(settings: FilterSettings, services: Services) -> VirusFilter:
    assert isinstance(settings, VirusFilterSettings)
    return VirusFilter(settings, services)


# "virus": clean, a signature name (free text), or why it was not scanned.
NOT_FOUND = frozenset({"clean", "skipped", *SKIPPED})
SYMBOLS = (Symbol("virus", NOT_FOUND, "clean, the signature found, or why the message was not scanned",
                  counter=SCANNER_RESULTS,
                  labels=lambda value, failed: (("virus", "error" if failed else value if value in NOT_FOUND
                                                 else "infected"),),
                  not_examined=frozenset(SKIPPED)),)

SPEC = FilterSpec(name="virus", read=read_settings, build=_build, opt_in=True, symbols=SYMBOLS)
