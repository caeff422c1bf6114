"""What the scanner tests share: policies, messages, fake engines on loopback, a clock."""


from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable


from privacy_filters import virus as virus_mod
from privacy_milter import policy as policy_mod
from privacy_milter.model import Direction, DirectionDecision, Message, Recipient, Session


RAW = (b"From: a@far.example\r\nTo: b@opted.example\r\nSubject: hi\r\n"
       b"Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@far.example>\r\n\r\nhello\r\n")


def check_with(cls, message, ctx, **kwargs):
    """Build the filter from the context's policy, as the registry does, and run its check."""
    return cls(ctx.site.settings(cls.name), **kwargs).check(message, ctx)


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


# --- fake clamd ---------------------------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


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
