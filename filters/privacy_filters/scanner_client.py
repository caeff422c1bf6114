"""What every scanner client shares: bounded network steps, connecting to "unix:/path" or
"inet:host:port", and a circuit breaker so a hung engine costs its time-out a few times,
not on every message.

The breaker: after `failures` consecutive failures (time-outs, refused or lost connections)
it opens and messages skip the engine at once (the filter's on_error applies, with the fact
NAME=breaker-open); after `cooldown` seconds one message is let through as a probe
(half-open); its success closes the breaker, its failure opens it again for another
cool-down. Each change of state is logged once, with the engine's address and nothing
from any message.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from privacy_milter.model import Action
from privacy_milter.plugin import ACTION_WORDS, FilterSettings
from privacy_milter.tomlcheck import Reader

log = logging.getLogger("privacy_filters.scanner")

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"
# What a scanner's verdict does to the message: policy.toml's action words, one list for all.
SCANNER_ACTIONS = ACTION_WORDS


@dataclass(frozen=True)
class ScannerSettings(FilterSettings):
    """What the engine clients share: a short connect time-out and the circuit breaker."""

    connect_timeout: float = 2.0            # seconds to connect; `timeout` bounds the whole check
    breaker_failures: int = 5               # failures in a row that open the breaker (0: never)
    breaker_cooldown: float = 30.0          # seconds an open breaker skips the engine before a probe
    max_size: int = 1024 * 1024             # bytes; larger messages are not scanned (fact only)


def scanner_address_problem(spec: str) -> str | None:
    """unix:/absolute/path or inet:host:port (IPv6 host in brackets)."""
    kind, _, rest = spec.partition(":")
    if kind == "unix" and rest.startswith("/"):
        return None
    if kind == "inet":
        host, _, port = rest.rpartition(":")
        if host.strip("[]") and port.isdigit() and 0 < int(port) < 65536:
            return None
    return "must look like unix:/run/clamav/clamd.ctl or inet:127.0.0.1:3310"


def url_problem(url: str) -> str | None:
    scheme, sep, rest = url.partition("://")
    if scheme in ("http", "https") and sep and rest and not rest.startswith("/") and " " not in url:
        return None
    return "must be an rspamd URL such as http://127.0.0.1:11333"


def read_scanner_common(r: Reader, timeout: float) -> tuple[float, int, float]:
    """[filters.virus] and [filters.spam]: connect_timeout, breaker_failures, breaker_cooldown."""
    d = ScannerSettings(timeout=timeout, on_error=Action.ACCEPT)
    connect = r.number("connect_timeout", min(d.connect_timeout, timeout), 0.1, 60)
    if connect > timeout:
        r.problem("connect_timeout", f"must not be longer than timeout ({timeout:g})")
        connect = timeout
    return (connect, r.integer("breaker_failures", d.breaker_failures, 0, 1000),
            r.number("breaker_cooldown", d.breaker_cooldown, 1, 3600))




class ScannerError(Exception):
    """A scanner could not give a verdict; the text names the engine and the problem, never content."""


class EngineAnswered(ScannerError):
    """The engine answered, but with an error about this message (a size limit, say): it is up,
    so this does not count towards opening the breaker."""


class BreakerOpen(Exception):
    """The engine's breaker is open: the message was not sent to it."""


async def step(awaitable: Awaitable[T], timeout: float, what: str) -> T:
    """One network step, bounded in time: a TimeoutError becomes a ScannerError naming the step."""
    try:
        async with asyncio.timeout(timeout):
            return await awaitable
    except TimeoutError:
        raise ScannerError(f"{what}: no answer within {timeout:g}s") from None


async def open_stream(address: str, timeout: float) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to "unix:/path" or "inet:host:port" (validated at policy load). `timeout` is the
    connect time-out, kept short: an engine that is down should not cost the answer time-out."""
    kind, _, rest = address.partition(":")
    try:
        if kind == "unix":
            return await step(asyncio.open_unix_connection(rest), timeout, f"connect {address}")
        host, _, port = rest.rpartition(":")
        return await step(asyncio.open_connection(host.strip("[]"), int(port)), timeout, f"connect {address}")
    except OSError as exc:
        raise ScannerError(f"cannot connect to {address}: {exc.strerror or type(exc).__name__}") from None


async def open_socket(address: str, timeout: float) -> socket.socket:
    """Like open_stream, but a plain non-blocking socket for loop.sock_* calls: a failed send
    on it leaves what the peer already sent readable (a stream transport closes both ways on
    a write error and drops it), so an engine's early answer is not lost."""
    kind, _, rest = address.partition(":")
    loop = asyncio.get_running_loop()
    target: Any
    try:
        if kind == "unix":
            sock, target = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM), rest
        else:
            host, _, port = rest.rpartition(":")
            infos = await step(loop.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM),
                               timeout, f"connect {address}")
            family, _, proto, _, target = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM, proto)
        sock.setblocking(False)
        try:
            await step(loop.sock_connect(sock, target), timeout, f"connect {address}")
        except BaseException:
            sock.close()
            raise
        return sock
    except OSError as exc:
        raise ScannerError(f"cannot connect to {address}: {exc.strerror or type(exc).__name__}") from None


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError, TimeoutError):
        async with asyncio.timeout(1.0):
            await writer.wait_closed()


class CircuitBreaker:
    """Closed → (N failures in a row) → open → (cool-down) → half-open: one probe → closed or open."""

    def __init__(self, name: str, engine: str, failures: int, cooldown: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.engine = name, engine
        self.failures_to_open, self.cooldown = failures, cooldown
        self.clock = clock
        self.state = CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    def allow(self) -> bool:
        """Whether this message may ask the engine (in half-open: only the one probe)."""
        if self.state == CLOSED or self.failures_to_open == 0:
            return True
        if self.state == OPEN and self.clock() - self._opened_at >= self.cooldown:
            self.state = HALF_OPEN
            log.warning("%s: engine %s: breaker half-open, one message probes it", self.name, self.engine)
        if self.state == HALF_OPEN and not self._probe_out:
            self._probe_out = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._probe_out = False
        if self.state != CLOSED:
            self.state = CLOSED
            log.warning("%s: engine %s: breaker closed, the engine answers again", self.name, self.engine)

    def failure(self) -> None:
        self._failures += 1
        self._probe_out = False
        if self.failures_to_open == 0:
            return
        if self.state == HALF_OPEN or (self.state == CLOSED and self._failures >= self.failures_to_open):
            was = self.state
            self.state, self._opened_at = OPEN, self.clock()
            log.error("%s: engine %s: breaker open (%s); messages skip the engine for %gs",
                      self.name, self.engine,
                      "the probe failed" if was == HALF_OPEN else f"{self._failures} failures in a row",
                      self.cooldown)


class Breakers:
    """One breaker per engine address, kept by a filter instance (a policy reload builds new
    filters, so it closes every breaker: a changed address starts afresh)."""

    def __init__(self, name: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.clock = name, clock
        self._by_engine: dict[tuple[str, int, float], CircuitBreaker] = {}

    def get(self, engine: str, failures: int, cooldown: float) -> CircuitBreaker:
        key = (engine, failures, cooldown)
        if key not in self._by_engine:
            self._by_engine[key] = CircuitBreaker(self.name, engine, failures, cooldown, self.clock)
        return self._by_engine[key]

    async def call(self, engine: str, failures: int, cooldown: float, ask: Callable[[], Awaitable[T]]) -> T:
        """`ask()`'s answer; BreakerOpen, without asking, when the breaker is open. A failure
        (anything but EngineAnswered, cancellation by the pipeline's time-out included) counts."""
        breaker = self.get(engine, failures, cooldown)
        if not breaker.allow():
            raise BreakerOpen(engine)
        try:
            answer = await ask()
        except EngineAnswered:
            breaker.success()
            raise
        except BaseException:
            breaker.failure()
            raise
        breaker.success()
        return answer
