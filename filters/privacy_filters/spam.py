"""Spam: SpamAssassin's spamd (SPAMC/1.5 CHECK) or rspamd (/checkv2), for customers who opted in.

Scores at or above [filters.spam] reject_score are refused (550 5.7.1); other mail the engine
calls spam gets [filters.spam] action (default: tag, `X-Privacy-Spam: yes, score=7.3`); the
rest only leaves facts. Only the verdict and score leave this module, never message content.
Engine failures raise (ScannerError, aiohttp errors): on_error (default accept) applies.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass
from functools import partial

import aiohttp
from multidict import CIMultiDict

from privacy_milter.model import Action, Message, Reply, Result
from privacy_milter.plugin import FilterContext, FilterSettings, FilterSpec, Symbol, read_common
from privacy_milter.services import Services
from privacy_milter.tomlcheck import Reader

from .scanner_client import (SCANNER_ACTIONS, BreakerOpen, ScannerError, ScannerSettings, close,
                             open_stream, read_scanner_common, scanner_address_problem, step, url_problem)
from .optin_scanner import CHUNK, SCANNER_RESULTS, SKIPPED, OptInScanner, not_scanned, open_raw, skipped_by_breaker

MARKER = "Spam"  # X-Privacy-Spam with the default prefix
SPAM_REPLY = Reply("550", "5.7.1", "Message refused as spam")


SPAM_BACKENDS = ("spamd", "rspamd")

@dataclass(frozen=True)
class SpamFilterSettings(ScannerSettings):
    """[filters.spam]: SpamAssassin's spamd or rspamd."""

    backend: str = "spamd"
    address: str = "inet:127.0.0.1:783"     # spamd: unix:/path or inet:host:port; rspamd: http(s) URL
    action: Action = Action.TAG             # what a message the engine calls spam gets
    reject_score: float = 15.0              # from this score on: 550 5.7.1 whatever `action` says
    max_size: int = 1024 * 1024             # bytes; larger messages are not scanned (fact only)


def read_settings(r: Reader) -> SpamFilterSettings:
    """[filters.spam]."""
    d = SpamFilterSettings(timeout=20.0, on_error=Action.ACCEPT)
    timeout, on_error = read_common(r, d.timeout, "accept")
    backend = r.string("backend", d.backend, SPAM_BACKENDS)
    default_address = d.address if backend == "spamd" else "http://127.0.0.1:11333"
    address = r.string("address", default_address)
    problem = scanner_address_problem(address) if backend == "spamd" else url_problem(address)
    if problem:
        r.problem("address", problem if backend == "rspamd" else problem.replace(
            "unix:/run/clamav/clamd.ctl or inet:127.0.0.1:3310", "unix:/run/spamd.sock or inet:127.0.0.1:783"))
        address = default_address
    connect_timeout, breaker_failures, breaker_cooldown = read_scanner_common(r, timeout)
    settings = SpamFilterSettings(
        timeout=timeout,
        on_error=on_error,
        backend=backend,
        address=address,
        action=SCANNER_ACTIONS[r.string("action", "tag", SCANNER_ACTIONS)],
        reject_score=r.number("reject_score", d.reject_score, 0, 10_000),
        max_size=r.integer("max_size_kb", 1024, 1, 1024 * 1024) * 1024,
        connect_timeout=connect_timeout,
        breaker_failures=breaker_failures,
        breaker_cooldown=breaker_cooldown,
    )
    r.done()
    return settings



MAX_HEADER_LINES = 32
RSPAMD_SPAM_ACTIONS = {"reject", "add header", "rewrite subject"}  # greylist / soft reject: not spam


@dataclass(frozen=True)
class SpamVerdict:
    spam: bool
    score: float


def parse_spamd(answer: bytes) -> SpamVerdict:
    """A spamd reply: `SPAMD/1.1 0 EX_OK` then headers with `Spam: True ; 1000.0 / 5.0`."""
    lines = answer.decode("ascii", "replace").split("\r\n")
    status = lines[0].split(None, 2)
    if len(status) < 2 or not status[0].startswith("SPAMD/"):
        raise ScannerError("spamd: unexpected answer")
    if status[1] != "0":
        raise ScannerError(f"spamd: error {status[1][:8]}")
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "spam":
            flag, _, scores = value.partition(";")
            score_text = scores.partition("/")[0].strip()
            try:
                score = float(score_text)
            except ValueError:
                raise ScannerError("spamd: unreadable score") from None
            if not math.isfinite(score) or flag.strip().lower() not in ("true", "false", "yes", "no"):
                raise ScannerError("spamd: unreadable verdict")
            return SpamVerdict(flag.strip().lower() in ("true", "yes"), score)
    raise ScannerError("spamd: no Spam header in the answer")


def parse_rspamd(data: object) -> SpamVerdict:
    """rspamd's /checkv2 JSON: `action` ("no action", "add header", ...) and `score`."""
    if not isinstance(data, dict):
        raise ScannerError("rspamd: unexpected answer")
    action, score = data.get("action"), data.get("score")
    if not isinstance(action, str) or isinstance(score, bool) or not isinstance(score, (int, float)) \
            or not math.isfinite(score):
        raise ScannerError("rspamd: answer without action and score")
    return SpamVerdict(action in RSPAMD_SPAM_ACTIONS, float(score))


async def ask_spamd(message: Message, address: str, timeout: float,
                    connect_timeout: float | None = None) -> SpamVerdict:
    raw = await open_raw(message)
    try:
        length = raw.seek(0, 2)
        raw.seek(0)
        reader, writer = await open_stream(address, timeout if connect_timeout is None else connect_timeout)
        try:
            writer.write(f"CHECK SPAMC/1.5\r\nContent-length: {length}\r\n\r\n".encode("ascii"))
            while chunk := raw.read(CHUNK):
                writer.write(chunk)
                await step(writer.drain(), timeout, "spamd: sending")
            if writer.can_write_eof():
                writer.write_eof()
            lines: list[bytes] = []
            while len(lines) < MAX_HEADER_LINES:
                line = await step(reader.readline(), timeout, "spamd: reading the verdict")
                if not line or line in (b"\r\n", b"\n"):
                    break
                lines.append(line.rstrip(b"\r\n"))
        except (ConnectionError, OSError):
            raise ScannerError("spamd: connection lost") from None
        except ValueError:  # a line past the stream limit
            raise ScannerError("spamd: answer too long") from None
        finally:
            await close(writer)
    finally:
        raw.close()
    if not lines:
        raise ScannerError("spamd: closed the connection without a verdict")
    return parse_spamd(b"\r\n".join(lines))


async def ask_rspamd(message: Message, url: str, timeout: float,
                     connect_timeout: float | None = None, session: aiohttp.ClientSession | None = None) -> SpamVerdict:
    """`session`: the daemon's one (Services.http); None (tools, tests): one for this request."""
    headers = {"Queue-Id": message.queue_id or "", "From": message.mail_from.strip("<>")}
    if message.session.client_addr:
        headers["IP"] = message.session.client_addr.removeprefix("IPv6:")
    if message.session.auth_authen:
        headers["User"] = message.session.auth_authen
    rcpts = [("Rcpt", r.address.strip("<>")) for r in message.recipients]
    client_timeout = aiohttp.ClientTimeout(total=timeout, sock_read=timeout,
                                           connect=timeout if connect_timeout is None else connect_timeout)
    raw = await open_raw(message)
    try:
        headers["Content-Length"] = str(raw.seek(0, 2))
        raw.seek(0)
        async with contextlib.AsyncExitStack() as stack:
            if session is None:
                session = await stack.enter_async_context(aiohttp.ClientSession())
            # the body is read in aiohttp's executor, in chunks
            async with session.post(url.rstrip("/") + "/checkv2", data=raw, timeout=client_timeout,
                                    headers=CIMultiDict(list(headers.items()) + rcpts)) as response:
                if response.status != 200:
                    raise ScannerError(f"rspamd: HTTP {response.status}")
                body = await response.content.read(1 << 20)
    except TimeoutError:
        raise ScannerError(f"rspamd: no answer within {timeout:g}s") from None
    except aiohttp.ClientError as exc:
        raise ScannerError(f"rspamd: {type(exc).__name__}") from None
    finally:
        raw.close()
    try:
        return parse_rspamd(json.loads(body))
    except ValueError:
        raise ScannerError("rspamd: answer is not JSON") from None


def act_on_verdict(name: str, verdict: SpamVerdict, settings: SpamFilterSettings, prefix: str) -> Result:
    score = f"{verdict.score:.1f}"
    facts = (("spam", "yes" if verdict.spam else "no"), ("spam_score", score))
    if verdict.score >= settings.reject_score:
        return Result(name, action=Action.REJECT, reply=SPAM_REPLY, facts=facts)
    if not verdict.spam:
        return Result(name, facts=facts)
    action = settings.action
    if action is Action.REJECT:
        return Result(name, action=action, reply=SPAM_REPLY, facts=facts)
    if action is Action.ACCEPT:  # log
        return Result(name, facts=facts)
    return Result(name, action=action, headers=((f"{prefix}-{MARKER}", f"yes, score={score}"),), facts=facts)


class SpamFilter(OptInScanner):
    name = "spam"
    settings: SpamFilterSettings

    @staticmethod
    def read_settings(r: Reader) -> SpamFilterSettings:
        return read_settings(r)

    async def check(self, message: Message, ctx: FilterContext) -> Result:
        settings = self.settings
        if skipped := not_scanned(self.name, message, ctx.site, settings.max_size):
            return skipped
        ask = partial(ask_rspamd, session=ctx.services.http) if settings.backend == "rspamd" else ask_spamd
        try:
            verdict = await self.breakers.call(
                settings.address, settings.breaker_failures, settings.breaker_cooldown,
                lambda: ask(message, settings.address, settings.timeout, settings.connect_timeout))
        except BreakerOpen:
            return skipped_by_breaker(self.name, settings)
        return act_on_verdict(self.name, verdict, settings, ctx.site.header_prefix)


def _build(settings: FilterSettings, services: Services) -> SpamFilter:
    assert isinstance(settings, SpamFilterSettings)
    return SpamFilter(settings, services)


# "spam": yes / no from the engine, or why the message was not scanned; counted as
# spam / ham / the reason.
OUTCOMES = {"yes": "spam", "no": "ham", **{s: s for s in SKIPPED}}
SYMBOLS = (
    Symbol("spam", frozenset(OUTCOMES), "the engine's verdict, or why the message was not scanned",
           counter=SCANNER_RESULTS,
           labels=lambda value, failed: (("spam", "error" if failed else OUTCOMES.get(value, "other")),),
           not_examined=frozenset(SKIPPED)),
    Symbol("spam_score", help="the engine's score, one decimal"),
)

SPEC = FilterSpec(name="spam", read=read_settings, build=_build, opt_in=True, symbols=SYMBOLS)
