"""The virus (clamd) and spam (spamd, rspamd) checks: answers parsed, opt-ins, and every way an
engine can fail, against fake engines on loopback (asyncio servers, an aiohttp app)."""

from __future__ import annotations

import asyncio
import json
import re
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from privacy_filters import spam as spam_mod
from privacy_filters import virus as virus_mod
from privacy_filters.spam import SpamFilter, SpamVerdict, parse_rspamd, parse_spamd
from privacy_filters.virus import ScannerError, VirusFilter, opted_in, parse_answer
from privacy_milter import policy as policy_mod
from privacy_milter.errors import PolicyError
from privacy_milter.model import Action, Direction, DirectionDecision, Message, Recipient, Session
from privacy_milter.pipeline import Context, Pipeline, Stage

RAW = (b"From: a@far.example\r\nTo: b@opted.example\r\nSubject: hi\r\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@far.example>\r\n\r\nhello\r\n")


def check_with(cls, message, ctx, **kwargs):
    """Build the filter from the context's policy, as the registry does, and run its check."""
    return cls(ctx.policy.settings(cls.name), **kwargs).check(message, ctx)


def make_policy(extra: str = "") -> policy_mod.Policy:
    return policy_mod.parse(f"""
[network]
hosted_domains = ["opted.example", "plain.example"]
[customers."opted.example"]
spam = true
virus = true
{extra}
""")


def message(direction: Direction = Direction.INBOUND, sender: str = "a@far.example",
            rcpts: tuple[str, ...] = ("b@opted.example",), raw: bytes = RAW) -> Message:
    m = Message.from_bytes(raw, Session("c", client_addr="192.0.2.1"), f"<{sender}>",
                           [Recipient(r) for r in rcpts])
    m.queue_id = "4ABC"
    m.direction = DirectionDecision(direction, "test")
    return m


# --- opt-in -------------------------------------------------------------------------------------

@pytest.mark.parametrize("direction, sender, rcpts, expected", [
    (Direction.INBOUND, "a@far.example", ("b@opted.example",), "opted.example"),
    (Direction.INBOUND, "a@far.example", ("b@plain.example", "c@sub.opted.example"), "sub.opted.example"),
    (Direction.INBOUND, "a@far.example", ("b@plain.example",), None),
    (Direction.INBOUND, "a@opted.example", ("b@plain.example",), None),  # inbound: the sender does not count
    (Direction.OUTBOUND, "a@opted.example", ("b@far.example",), "opted.example"),
    (Direction.OUTBOUND, "a@plain.example", ("b@opted.example",), None),  # outbound: recipients do not count
    (Direction.OUTBOUND, "a@far.example", ("b@far.example",), None),
])
def test_opt_in_follows_direction(direction, sender, rcpts, expected):
    assert opted_in(message(direction, sender, rcpts), make_policy(), "virus") == expected


def test_opt_ins_are_separate():
    p = make_policy('[customers."plain.example"]\nvirus = true')
    m = message(rcpts=("b@plain.example",))
    assert opted_in(m, p, "virus") == "plain.example"
    assert opted_in(m, p, "spam") is None


async def test_not_opted_in_is_a_fact_and_nothing_else():
    ctx = Context(make_policy('[filters.virus]\naddress = "inet:127.0.0.1:1"'))
    m = message(rcpts=("b@plain.example",))
    v = await check_with(VirusFilter, m, ctx)
    s = await check_with(SpamFilter, m, ctx)
    assert (v.action, v.facts, v.headers) == (Action.ACCEPT, (("virus", "not-opted-in"),), ())
    assert (s.action, s.facts, s.headers) == (Action.ACCEPT, (("spam", "not-opted-in"),), ())


# --- parsing ------------------------------------------------------------------------------------

@pytest.mark.parametrize("answer, found", [
    (b"stream: OK\0", None),
    (b"stream: Eicar-Test-Signature FOUND\0", "Eicar-Test-Signature"),
    (b"stream: Win.Test.EICAR_HDB-1 FOUND\0", "Win.Test.EICAR_HDB-1"),
    (b"stream: <script>alert(1)</script> FOUND\0", "unnamed-signature"),
])
def test_clamd_answers(answer, found):
    assert parse_answer(answer) == found


@pytest.mark.parametrize("answer, problem", [
    (b"INSTREAM size limit exceeded. ERROR\0", "size limit"),
    (b"stream: Can't allocate memory ERROR\0", "scan error"),
    (b"HTTP/1.1 400 Bad Request\r\n", "unexpected"),
    (b"\xff\xfe garbage", "unexpected"),
])
def test_clamd_errors_raise(answer, problem):
    with pytest.raises(ScannerError, match=problem):
        parse_answer(answer)


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
    r = spam_mod.decide("spam", verdict, p.settings("spam"), p.milter.header_prefix)
    assert r.action is action
    assert r.headers == ((header,) if header else ())
    assert r.facts[0] == ("spam", "yes" if verdict.spam else "no")
    if action is Action.REJECT:
        assert r.reply is not None and (r.reply.code, r.reply.xcode) == ("550", "5.7.1")


# --- fake clamd ---------------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[str]]]:
    servers: list[asyncio.Server] = []

    async def start(handler: Handler) -> str:
        server = await asyncio.start_server(handler, "127.0.0.1", 0)
        servers.append(server)
        return f"inet:127.0.0.1:{server.sockets[0].getsockname()[1]}"

    yield start
    for s in servers:
        s.close()
        await s.wait_closed()


async def read_instream(reader: asyncio.StreamReader) -> bytes:
    assert await reader.readuntil(b"\0") == b"zINSTREAM\0"
    data = b""
    while True:
        (n,) = struct.unpack(">I", await reader.readexactly(4))
        if n == 0:
            return data
        assert n <= virus_mod.CHUNK
        data += await reader.readexactly(n)


def clamd(answer: bytes, seen: list[bytes] | None = None) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await read_instream(reader)
        if seen is not None:
            seen.append(data)
        writer.write(answer)
        await writer.drain()
        writer.close()
    return handle


def virus_ctx(address: str, extra: str = "") -> Context:
    return Context(make_policy(f'[filters.virus]\naddress = "{address}"\ntimeout = 2\n{extra}'))


async def test_clamd_gets_the_whole_message_in_chunks(serve):
    seen: list[bytes] = []
    raw = RAW + b"x" * (3 * virus_mod.CHUNK + 17)
    address = await serve(clamd(b"stream: OK\0", seen))
    r = await check_with(VirusFilter, message(raw=raw), virus_ctx(address))
    assert seen == [raw]
    assert (r.action, r.facts) == (Action.ACCEPT, (("virus", "clean"),))


async def test_a_spooled_message_is_streamed_as_postfix_sent_it(serve):
    m = Message(Session("c"), "<a@far.example>", [Recipient("b@opted.example")],
                headers=[("Subject", "big"), ("Date", "Mon, 23 Nov 2026 10:00:00 +0000")])
    m.direction = DirectionDecision(Direction.INBOUND, "test")
    body = b"0123456789abcdef" * (200 * 1024)  # 3.2 MB: spooled to disk
    for i in range(0, len(body), 65536):
        m.write_body(body[i:i + 65536])
    seen: list[bytes] = []
    address = await serve(clamd(b"stream: OK\0", seen))
    await check_with(VirusFilter, m, virus_ctx(address))
    assert seen == [b"Subject: big\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n" + body]


async def test_clamd_over_a_unix_socket(tmp_path):
    path = tmp_path / "clamd.sock"
    server = await asyncio.start_unix_server(clamd(b"stream: Eicar-Test-Signature FOUND\0"), str(path))
    try:
        r = await check_with(VirusFilter, message(), virus_ctx(f"unix:{path}"))
    finally:
        server.close()
        await server.wait_closed()
    assert r.action is Action.REJECT
    assert r.reply is not None and (r.reply.code, r.reply.xcode, r.reply.text) == \
        ("554", "5.7.1", "Virus found (Eicar-Test-Signature)")
    assert r.facts == (("virus", "Eicar-Test-Signature"),)


async def test_virus_tag_action_adds_the_signature_header(serve):
    address = await serve(clamd(b"stream: Eicar-Test-Signature FOUND\0"))
    r = await check_with(VirusFilter, message(), virus_ctx(address, 'action = "tag"'))
    assert (r.action, r.headers, r.reply) == (Action.TAG, (("X-Privacy-Virus", "Eicar-Test-Signature"),), None)


async def test_clamd_size_limit_is_an_error(serve):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\0")
        await reader.readexactly(4)
        writer.write(b"INSTREAM size limit exceeded. ERROR\0")
        await writer.drain()
        writer.close()  # as clamd does: it stops reading
    address = await serve(handle)
    raw = RAW + b"y" * (8 * 1024 * 1024)
    with pytest.raises(ScannerError, match="size limit"):
        await check_with(VirusFilter, message(raw=raw), virus_ctx(address))


async def test_clamd_silent_is_a_timeout(serve):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_instream(reader)
        await asyncio.sleep(10)
    address = await serve(handle)
    ctx = Context(make_policy(f'[filters.virus]\naddress = "{address}"\ntimeout = 0.3'))
    with pytest.raises(ScannerError, match="no answer within 0.3s"):
        await check_with(VirusFilter, message(), ctx)


@pytest.mark.parametrize("answer", [b"", b"stream: OK", b"garbage\0", b"\0"])
async def test_clamd_garbage_or_closed(serve, answer):
    address = await serve(clamd(answer))
    if answer == b"stream: OK":  # no NUL, then EOF: still a whole answer
        assert (await check_with(VirusFilter, message(), virus_ctx(address))).facts == (("virus", "clean"),)
        return
    with pytest.raises(ScannerError):
        await check_with(VirusFilter, message(), virus_ctx(address))


async def test_clamd_down_is_an_error_and_on_error_tempfails():
    ctx = virus_ctx("inet:127.0.0.1:1")
    with pytest.raises(ScannerError, match="cannot connect"):
        await check_with(VirusFilter, message(), ctx)
    verdict = await Pipeline([Stage(VirusFilter(ctx.policy.settings("virus")), ctx.policy.settings("virus"))]).run(message(), ctx.policy)
    assert verdict.action is Action.TEMPFAIL


async def test_too_large_is_not_scanned():
    ctx = virus_ctx("inet:127.0.0.1:1", "max_size_mb = 1")
    r = await check_with(VirusFilter, message(raw=RAW + b"z" * (1024 * 1024)), ctx)
    assert r.facts == (("virus", "too-large"),)


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


def spam_ctx(address: str, extra: str = "") -> Context:
    return Context(make_policy(f'[filters.spam]\naddress = "{address}"\ntimeout = 2\n{extra}'))


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
    ctx = Context(make_policy(f'[filters.spam]\naddress = "{address}"\ntimeout = 0.3'))
    with pytest.raises(ScannerError, match="no answer"):
        await check_with(SpamFilter, message(), ctx)
    verdict = await Pipeline([Stage(SpamFilter(ctx.policy.settings("spam")), ctx.policy.settings("spam"))]).run(message(), ctx.policy)
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
    ctx = Context(make_policy(f'[filters.spam]\nbackend = "rspamd"\naddress = "{url}"\ntimeout = 0.3'))
    with pytest.raises(ScannerError, match="no answer"):
        await check_with(SpamFilter, message(), ctx)
    with pytest.raises(ScannerError):
        await check_with(SpamFilter, message(), spam_ctx("http://127.0.0.1:1", 'backend = "rspamd"'))


# --- policy -------------------------------------------------------------------------------------

def test_scanner_defaults():
    p = policy_mod.default()
    assert "virus" not in p.filters and "spam" not in p.filters
    assert (p.settings("virus").address, p.settings("virus").on_error, p.settings("virus").action) == \
        ("unix:/run/clamav/clamd.ctl", Action.TEMPFAIL, Action.REJECT)
    assert (p.settings("spam").backend, p.settings("spam").address, p.settings("spam").on_error, p.settings("spam").action, p.settings("spam").reject_score) == \
        ("spamd", "inet:127.0.0.1:783", Action.ACCEPT, Action.TAG, 15.0)
    rs = policy_mod.parse('[filters.spam]\nbackend = "rspamd"')
    assert rs.settings("spam").address == "http://127.0.0.1:11333"
    assert policy_mod.parse('[pipeline]\nfilters = ["dlp", "tls", "virus", "spam"]').filters[-1] == "spam"


@pytest.mark.parametrize("text, where", [
    ('[filters.virus]\naddress = "clamd.sock"', "filters.virus.address"),
    ('[filters.virus]\naddress = "inet:127.0.0.1"', "filters.virus.address"),
    ('[filters.virus]\nadress = "unix:/x"', "filters.virus.adress"),
    ('[filters.virus]\naction = "log"', "filters.virus.action"),
    ('[filters.virus]\nmax_size_mb = "10"', "filters.virus.max_size_mb"),
    ('[filters.spam]\nbackend = "dspam"', "filters.spam.backend"),
    ('[filters.spam]\nbackend = "rspamd"\naddress = "inet:127.0.0.1:11333"', "filters.spam.address"),
    ('[filters.spam]\naddress = "http://127.0.0.1:11333"', "filters.spam.address"),
    ('[filters.spam]\nreject_score = "high"', "filters.spam.reject_score"),
    ('[filters.spam]\non_error = "reject"', "filters.spam.on_error"),
    ('[filters.virus]\nbreaker_failures = -1', "filters.virus.breaker_failures"),
    ('[filters.virus]\nbreaker_cooldown = 0', "filters.virus.breaker_cooldown"),
    ('[filters.spam]\nbreaker_failures = 2.5', "filters.spam.breaker_failures"),
    ('[filters.spam]\ntimeout = 1\nconnect_timeout = 5', "filters.spam.connect_timeout"),
    ('[filters.virus]\nconnect_timeout = "2"', "filters.virus.connect_timeout"),
])
def test_scanner_settings_are_validated(text, where):
    with pytest.raises(PolicyError) as info:
        policy_mod.parse("\n\n" + text)
    rendered = "\n".join(info.value.problems) if hasattr(info.value, "problems") else str(info.value)
    assert where in rendered
    assert re.search(r"policy\.toml:[45]: " + re.escape(where), rendered), rendered


def test_facts_never_hold_content():
    assert json.dumps(parse_answer(b"stream: Eicar-Test-Signature FOUND\0"))


# --- circuit breaker (issue 13, item 6) ---------------------------------------------------------

class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def hung_then(answering: dict[str, bytes | None]) -> Handler:
    """Accepts and never answers while answering["now"] is None; then answers it."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if answering["now"] is None:
            await asyncio.sleep(30)
            return
        await read_instream(reader)
        writer.write(answering["now"])
        await writer.drain()
        writer.close()
    return handle


async def test_breaker_opens_after_n_hangs_probes_after_cooldown_and_closes(serve, caplog):
    answering: dict[str, bytes | None] = {"now": None}
    address = await serve(hung_then(answering))
    ctx = Context(make_policy(f'[filters.virus]\naddress = "{address}"\ntimeout = 0.2\n'
                              f'breaker_failures = 3\nbreaker_cooldown = 30'))
    clock = Clock()
    virus = VirusFilter(ctx.policy.settings("virus"), clock=clock)
    pipeline = Pipeline([Stage(virus, ctx.policy.settings("virus"))])
    for _ in range(3):  # each waits for the time-out
        verdict = await pipeline.run(message(), ctx.policy)
        assert verdict.action is Action.TEMPFAIL and verdict.results[0].error
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await pipeline.run(message(), ctx.policy)
    assert loop.time() - started < 0.1  # at once: the engine is not asked
    result = verdict.results[0]
    assert verdict.action is Action.TEMPFAIL and result.facts == (("virus", "breaker-open"),) and result.error
    clock.now += 29
    assert (await virus.check(message(), ctx)).facts == (("virus", "breaker-open"),)
    answering["now"] = b"stream: OK\0"  # the engine answers again
    clock.now += 2
    probe = await virus.check(message(), ctx)
    assert probe.facts == (("virus", "clean"),)
    assert (await virus.check(message(), ctx)).facts == (("virus", "clean"),)  # closed
    changes = [r.message for r in caplog.records if "breaker" in r.message]
    assert len(changes) == 3 and "open" in changes[0] and "half-open" in changes[1] and "closed" in changes[2]
    assert all(address.removeprefix("inet:") in c for c in changes)
    assert not any("opted.example" in r.message or "far.example" in r.message for r in caplog.records
                   if "breaker" in r.message)


async def test_failed_probe_opens_the_breaker_again_and_only_one_probe_goes(serve):
    answering: dict[str, bytes | None] = {"now": None}
    address = await serve(hung_then(answering))
    ctx = Context(make_policy(f'[filters.spam]\naddress = "{address}"\ntimeout = 0.2\n'
                              f'breaker_failures = 1\nbreaker_cooldown = 5'))
    clock = Clock()
    spam = SpamFilter(ctx.policy.settings("spam"), clock=clock)
    with pytest.raises(ScannerError):
        await spam.check(message(), ctx)
    assert (await spam.check(message(), ctx)).facts == (("spam", "breaker-open"),)
    clock.now += 5
    probe = asyncio.ensure_future(spam.check(message(), ctx))
    await asyncio.sleep(0.05)
    other = await spam.check(message(), ctx)  # while the probe is out
    assert other.facts == (("spam", "breaker-open"),) and other.action is Action.ACCEPT  # spam on_error
    with pytest.raises(ScannerError):
        await probe
    assert (await spam.check(message(), ctx)).facts == (("spam", "breaker-open"),)  # open again


async def test_an_engine_error_about_one_message_does_not_open_the_breaker(serve):
    address = await serve(clamd(b"INSTREAM size limit exceeded. ERROR\0"))
    ctx = Context(make_policy(f'[filters.virus]\naddress = "{address}"\nbreaker_failures = 1'))
    virus = VirusFilter(ctx.policy.settings("virus"), clock=Clock())
    for _ in range(2):
        with pytest.raises(ScannerError, match="size limit"):
            await virus.check(message(), ctx)


async def test_connect_timeout_is_separate_and_short(monkeypatch):
    from privacy_filters import scanner_client

    seen: list[float] = []

    async def fake_open(address, timeout):
        seen.append(timeout)
        raise ScannerError("down")

    monkeypatch.setattr(virus_mod, "open_stream", fake_open)
    monkeypatch.setattr(spam_mod, "open_stream", fake_open)
    ctx = Context(make_policy('[filters.virus]\ntimeout = 30\nconnect_timeout = 1.5\n[filters.spam]\ntimeout = 20'))
    for f in (VirusFilter(ctx.policy.settings("virus")), SpamFilter(ctx.policy.settings("spam"))):
        with pytest.raises(ScannerError):
            await f.check(message(), ctx)
    assert seen == [1.5, 2.0]
    assert scanner_client.ScannerError is ScannerError
    p = policy_mod.default()
    assert (p.settings("virus").breaker_failures, p.settings("virus").breaker_cooldown,
            p.settings("spam").connect_timeout) == (5, 30.0, 2.0)
