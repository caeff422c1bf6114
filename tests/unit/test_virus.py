"""The virus filter against fake clamd servers on loopback (filters/privacy_filters/virus.py)."""


from __future__ import annotations

import asyncio

import pytest

from privacy_filters import virus as virus_mod
from privacy_filters.virus import ScannerError, VirusFilter, parse_answer
from privacy_milter.model import Action, Direction, DirectionDecision, Message, Recipient, Session
from privacy_milter.pipeline import Pipeline, Stage
from privacy_milter.plugin import FilterContext

from tests.unit.scanner_helpers import RAW, check_with, clamd, make_policy, message, read_instream


def virus_ctx(address: str, extra: str = "") -> FilterContext:
    return FilterContext(make_policy(f'[filters.virus]\naddress = "{address}"\ntimeout = 2\n{extra}').site)


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
    ctx = FilterContext(make_policy(f'[filters.virus]\naddress = "{address}"\ntimeout = 0.3').site)
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
    verdict = await Pipeline([Stage(VirusFilter(ctx.site.settings("virus")), ctx.site.settings("virus"))]).run(message(), ctx.site)
    assert verdict.action is Action.TEMPFAIL


async def test_too_large_is_not_scanned():
    ctx = virus_ctx("inet:127.0.0.1:1", "max_size_mb = 1")
    r = await check_with(VirusFilter, message(raw=RAW + b"z" * (1024 * 1024)), ctx)
    assert r.facts == (("virus", "too-large"),)
