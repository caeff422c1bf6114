"""The spam filter against fake spamd and rspamd servers on loopback (filters/privacy_filters/spam.py)."""


from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from privacy_filters import spam as spam_mod
from privacy_filters.spam import SpamFilter, SpamVerdict, parse_rspamd, parse_spamd
from privacy_filters.virus import ScannerError
from privacy_milter.model import Action
from privacy_milter.pipeline import Pipeline, Stage
from privacy_milter.plugin import FilterContext

from tests.unit.scanner_helpers import RAW, Handler, check_with, make_policy, message


# --- fake spamd ---------------------------------------------------------------------------------

def spamd(answer: bytes, seen: list[tuple[bytes, bytes]] | None = None) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        body = await reader.readexactly(length)
        if seen is not None:
            seen.append((head, body))
        writer.write(answer)
        await writer.drain()
        writer.close()
    return handle


def spam_ctx(address: str, extra: str = "") -> FilterContext:
    return FilterContext(make_policy(f'[filters.spam]\naddress = "{address}"\ntimeout = 2\n{extra}').site)


# --- fake rspamd --------------------------------------------------------------------------------

@pytest.fixture
async def rspamd() -> AsyncIterator[Callable[[web.Response | None, float], Awaitable[tuple[str, list]]]]:
    runners: list[web.AppRunner] = []

    async def start(response: web.Response | None, delay: float = 0.0) -> tuple[str, list]:
        seen: list = []

        async def checkv2(request: web.Request) -> web.Response:
            seen.append((dict(request.headers), request.headers.getall("Rcpt", []), await request.read()))
            await asyncio.sleep(delay)
            return response if response is not None else web.json_response({"action": "no action", "score": 0})
        app = web.Application()
        app.router.add_post("/checkv2", checkv2)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}", seen

    yield start
    for r in runners:
        await r.cleanup()


@pytest.mark.parametrize("answer, verdict", [
    (b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: True ; 1000.0 / 5.0", SpamVerdict(True, 1000.0)),
    (b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0", SpamVerdict(False, -0.1)),
    (b"SPAMD/1.5 0 EX_OK\r\nspam: Yes ; 7.3 / 5.0", SpamVerdict(True, 7.3)),
])
def test_spamd_answers(answer, verdict):
    assert parse_spamd(answer) == verdict


@pytest.mark.parametrize("answer, problem", [
    (b"SPAMD/1.1 76 Bad header line", "error 76"),
    (b"SPAMD/1.1 0 EX_OK\r\nContent-length: 0", "no Spam header"),
    (b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; lots / 5.0", "unreadable score"),
    (b"SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 3.0 / 5.0", "unreadable verdict"),
    (b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; nan / 5.0", "unreadable verdict"),
    (b"220 smtp.example ESMTP", "unexpected"),
])
def test_spamd_errors_raise(answer, problem):
    with pytest.raises(ScannerError, match=problem):
        parse_spamd(answer)


@pytest.mark.parametrize("data, verdict", [
    ({"action": "no action", "score": 1.2}, SpamVerdict(False, 1.2)),
    ({"action": "add header", "score": 7.3, "required_score": 15}, SpamVerdict(True, 7.3)),
    ({"action": "greylist", "score": 4.1}, SpamVerdict(False, 4.1)),
    ({"action": "reject", "score": 16}, SpamVerdict(True, 16.0)),
])
def test_rspamd_answers(data, verdict):
    assert parse_rspamd(data) == verdict


@pytest.mark.parametrize("data", [[], {"score": 1}, {"action": "no action"}, {"action": "x", "score": "7"},
                                  {"action": "x", "score": True}])
def test_rspamd_garbage_raises(data):
    with pytest.raises(ScannerError):
        parse_rspamd(data)


# --- decisions ----------------------------------------------------------------------------------

@pytest.mark.parametrize("extra, verdict, action, header", [
    ("", SpamVerdict(True, 7.34), Action.TAG, ("X-Privacy-Spam", "yes, score=7.3")),
    ("", SpamVerdict(False, 2.0), Action.ACCEPT, None),
    ("", SpamVerdict(True, 1000.0), Action.REJECT, None),
    ("", SpamVerdict(False, 20.0), Action.REJECT, None),          # the score alone decides a refusal
    ('action = "log"', SpamVerdict(True, 7.0), Action.ACCEPT, None),
    ('action = "quarantine"', SpamVerdict(True, 7.0), Action.QUARANTINE, ("X-Privacy-Spam", "yes, score=7.0")),
    ('action = "reject"', SpamVerdict(True, 7.0), Action.REJECT, None),
    ("reject_score = 6", SpamVerdict(True, 7.0), Action.REJECT, None),
])
def test_spam_decisions(extra, verdict, action, header):
    p = make_policy(f"[filters.spam]\n{extra}")
    r = spam_mod.act_on_verdict("spam", verdict, p.settings("spam"), p.milter.header_prefix)
    assert r.action is action
    assert r.headers == ((header,) if header else ())
    assert r.facts[0] == ("spam", "yes" if verdict.spam else "no")
    if action is Action.REJECT:
        assert r.reply is not None and (r.reply.code, r.reply.xcode) == ("550", "5.7.1")


async def test_spamd_request_and_tag(serve):
    seen: list[tuple[bytes, bytes]] = []
    address = await serve(spamd(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.3 / 5.0\r\n\r\n", seen))
    r = await check_with(SpamFilter, message(), spam_ctx(address))
    assert seen == [(f"CHECK SPAMC/1.5\r\nContent-length: {len(RAW)}\r\n\r\n".encode(), RAW)]
    assert r.action is Action.TAG and r.headers == (("X-Privacy-Spam", "yes, score=7.3"),)
    assert ("spam_score", "7.3") in r.facts


async def test_spamd_header_prefix_follows_policy(serve):
    address = await serve(spamd(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 7.3 / 5.0\r\n\r\n"))
    ctx = spam_ctx(address, '[milter]\nheader_prefix = "X-Acme"')
    r = await check_with(SpamFilter, message(), ctx)
    assert r.headers == (("X-Acme-Spam", "yes, score=7.3"),)


async def test_spamd_gtube_is_rejected(serve):
    address = await serve(spamd(b"SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n"))
    r = await check_with(SpamFilter, message(), spam_ctx(address))
    assert r.action is Action.REJECT and r.reply is not None and r.reply.code == "550"


@pytest.mark.parametrize("answer", [b"", b"garbage\r\n\r\n", b"SPAMD/1.1 74 EX_NOHOST\r\n\r\n",
                                    b"x" * 200_000])
async def test_spamd_garbage_raises(serve, answer):
    address = await serve(spamd(answer))
    with pytest.raises(ScannerError):
        await check_with(SpamFilter, message(), spam_ctx(address))


async def test_spamd_silent_times_out_and_on_error_accepts(serve):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)
    address = await serve(handle)
    ctx = FilterContext(make_policy(f'[filters.spam]\naddress = "{address}"\ntimeout = 0.3').site)
    with pytest.raises(ScannerError, match="no answer"):
        await check_with(SpamFilter, message(), ctx)
    verdict = await Pipeline([Stage(SpamFilter(ctx.site.settings("spam")), ctx.site.settings("spam"))]).run(message(), ctx.site)
    assert verdict.action is Action.ACCEPT and verdict.results[0].error


async def test_spamd_over_a_unix_socket(tmp_path):
    path = tmp_path / "spamd.sock"
    server = await asyncio.start_unix_server(spamd(b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; 1.0 / 5.0\r\n\r\n"),
                                             str(path))
    try:
        r = await check_with(SpamFilter, message(), spam_ctx(f"unix:{path}"))
    finally:
        server.close()
        await server.wait_closed()
    assert (r.action, r.facts) == (Action.ACCEPT, (("spam", "no"), ("spam_score", "1.0")))


async def test_rspamd_request_and_tag(rspamd):
    url, seen = await rspamd(web.json_response({"action": "add header", "score": 7.34, "required_score": 15}))
    ctx = spam_ctx(url, 'backend = "rspamd"')
    r = await check_with(SpamFilter, message(rcpts=("b@opted.example", "c@opted.example")), ctx)
    assert r.action is Action.TAG and r.headers == (("X-Privacy-Spam", "yes, score=7.3"),)
    headers, rcpts, body = seen[0]
    assert body == RAW and rcpts == ["b@opted.example", "c@opted.example"]
    assert headers["From"] == "a@far.example" and headers["IP"] == "192.0.2.1" and headers["Queue-Id"] == "4ABC"


@pytest.mark.parametrize("response", [web.Response(status=500, text="oops"), web.Response(text="not json"),
                                      web.json_response({"error": "x"})])
async def test_rspamd_errors_raise(rspamd, response):
    url, _ = await rspamd(response)
    with pytest.raises(ScannerError):
        await check_with(SpamFilter, message(), spam_ctx(url, 'backend = "rspamd"'))


async def test_rspamd_timeout_and_down(rspamd):
    url, _ = await rspamd(None, 1.0)
    ctx = FilterContext(make_policy(f'[filters.spam]\nbackend = "rspamd"\naddress = "{url}"\ntimeout = 0.3').site)
    with pytest.raises(ScannerError, match="no answer"):
        await check_with(SpamFilter, message(), ctx)
    with pytest.raises(ScannerError):
        await check_with(SpamFilter, message(), spam_ctx("http://127.0.0.1:1", 'backend = "rspamd"'))
