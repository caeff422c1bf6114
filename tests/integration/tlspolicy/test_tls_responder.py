"""The socketmap responder over a real unix socket, with a scripted handler."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from privacy_milter.tlspolicy import netstring
from privacy_milter.tlspolicy.responder import SocketmapResponder
from privacy_milter.tlspolicy.socketmap import Request, Response


async def scripted(request: Request) -> Response:
    """key "sleep-N-name" waits N ms; "boom" raises; "hang" never answers in time."""
    if request.key == "boom":
        raise RuntimeError("resolver exploded with a secret detail")
    if request.key == "hang":
        await asyncio.sleep(60)
    if request.key.startswith("sleep-"):
        await asyncio.sleep(int(request.key.split("-")[1]) / 1000)
    return Response.ok(f"{request.name}:{request.key}")


@pytest.fixture
async def responder(short_dir: Path) -> AsyncIterator[SocketmapResponder]:
    server = SocketmapResponder(scripted, path=str(short_dir / "r.sock"), mode=0o600, max_request_bytes=256,
                                request_timeout=0.5, idle_timeout=5)
    await server.start()
    yield server
    await server.stop()


Connect = Callable[[str], Awaitable[Any]]


async def test_tls_one_request_and_socket_mode(responder: SocketmapResponder, socketmap_client: Connect) -> None:
    assert stat.S_IMODE(os.stat(responder.path).st_mode) == 0o600
    client = await socketmap_client(responder.path)
    assert await client.ask("example.com") == "OK tlspolicy:example.com"
    assert await client.ask("example.org", name="other") == "OK other:example.org"


async def test_tls_pipelined_requests_are_answered_in_order(responder: SocketmapResponder,
                                                            socketmap_client: Connect) -> None:
    rng = random.Random(7)
    keys = [f"sleep-{rng.randint(0, 30)}-{i}" for i in range(60)]
    client = await socketmap_client(responder.path)
    await client.send_raw(b"".join(netstring.encode(f"tlspolicy {k}".encode()) for k in keys))
    assert await client.read(len(keys)) == [f"OK tlspolicy:{k}" for k in keys]


@pytest.mark.parametrize("piece", [128, 16, 1])
async def test_tls_fragmented_requests(responder: SocketmapResponder, socketmap_client: Connect, piece: int) -> None:
    keys = [f"d{i}.example" for i in range(10)]
    client = await socketmap_client(responder.path)
    await client.send_raw(b"".join(netstring.encode(f"tlspolicy {k}".encode()) for k in keys), piece=piece)
    assert await client.read(len(keys)) == [f"OK tlspolicy:{k}" for k in keys]


async def test_tls_many_connections_at_once(responder: SocketmapResponder, socketmap_client: Connect) -> None:
    clients = [await socketmap_client(responder.path) for _ in range(30)]
    answers = await asyncio.gather(*(c.ask(f"sleep-10-{i}") for i, c in enumerate(clients)))
    assert answers == [f"OK tlspolicy:sleep-10-{i}" for i in range(30)]


async def test_tls_handler_errors_answer_temp_and_the_server_lives(responder: SocketmapResponder,
                                                                   socketmap_client: Connect) -> None:
    client = await socketmap_client(responder.path)
    answer = await client.ask("boom")
    assert answer.startswith("TEMP ") and "secret" not in answer
    assert (await client.ask("hang")).startswith("TEMP ")
    assert await client.ask("after.example") == "OK tlspolicy:after.example"


async def test_tls_bad_socketmap_payload_is_perm_and_connection_continues(responder: SocketmapResponder,
                                                                          socketmap_client: Connect) -> None:
    client = await socketmap_client(responder.path)
    await client.send_raw(netstring.encode(b"no-space-here"))
    assert (await client.read(1))[0].startswith("PERM ")
    assert await client.ask("ok.example") == "OK tlspolicy:ok.example"


@pytest.mark.parametrize("garbage", [b"xyz:abc,", b"5:abcdef", b"99999999:", b"400:" + b"a" * 400 + b","])
async def test_tls_framing_errors_and_oversize_close_only_that_connection(
        responder: SocketmapResponder, socketmap_client: Connect, garbage: bytes) -> None:
    bad = await socketmap_client(responder.path)
    await bad.send_raw(garbage)
    assert await bad.closed_by_server()
    good = await socketmap_client(responder.path)
    assert await good.ask("still.example") == "OK tlspolicy:still.example"


async def test_tls_stale_socket_is_replaced_and_other_files_are_not(short_dir: Path, socketmap_client: Connect) -> None:
    stale = short_dir / "stale.sock"
    leftover = socket.socket(socket.AF_UNIX)
    leftover.bind(str(stale))
    leftover.close()  # the file stays, nobody listens: a crashed previous run
    server = SocketmapResponder(scripted, path=str(stale))
    await server.start()
    client = await socketmap_client(str(stale))
    assert await client.ask("x.example") == "OK tlspolicy:x.example"
    await client.close()
    await server.stop()
    assert not stale.exists()
    regular = short_dir / "not-a-socket"
    regular.write_text("keep me")
    with pytest.raises(FileExistsError):
        await SocketmapResponder(scripted, path=str(regular)).start()
    assert regular.read_text() == "keep me"


async def test_tls_stop_closes_open_connections(short_dir: Path, socketmap_client: Connect) -> None:
    server = SocketmapResponder(scripted, path=str(short_dir / "s.sock"))
    await server.start()
    client = await socketmap_client(server.path)
    assert await client.ask("x.example") == "OK tlspolicy:x.example"
    await asyncio.wait_for(server.stop(), 10)
    assert await client.closed_by_server()
    assert not os.path.exists(server.path)


async def test_tls_connection_limit(short_dir: Path, socketmap_client: Connect) -> None:
    server = SocketmapResponder(scripted, path=str(short_dir / "l.sock"), max_connections=2)
    await server.start()
    try:
        first = [await socketmap_client(server.path) for _ in range(2)]
        for c in first:
            assert await c.ask("a.example") == "OK tlspolicy:a.example"
        extra = await socketmap_client(server.path)
        assert await extra.closed_by_server()
    finally:
        await server.stop()


async def test_tls_client_vanishing_mid_pipeline_does_not_hurt(responder: SocketmapResponder,
                                                               socketmap_client: Connect) -> None:
    rude = await socketmap_client(responder.path)
    await rude.send_raw(b"".join(netstring.encode(f"tlspolicy sleep-50-{i}".encode()) for i in range(10)))
    await rude.close()
    await asyncio.sleep(0.2)
    polite = await socketmap_client(responder.path)
    assert await polite.ask("after.example") == "OK tlspolicy:after.example"
