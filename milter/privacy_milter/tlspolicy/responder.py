"""The socketmap server Postfix's smtp processes connect to (asyncio, unix socket).

Each connection may pipeline requests; they are resolved concurrently (up to
PIPELINE_DEPTH per connection) and answered strictly in order. A handler that fails or
takes longer than `request_timeout` answers TEMP for that request only. A framing error
or an oversized request closes that connection: the stream cannot be resynchronised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable

from privacy_milter.tlspolicy import netstring
from privacy_milter.tlspolicy.socketmap import (
    Request,
    Response,
    SocketmapError,
    parse_request,
)

log = logging.getLogger("privacy_milter.tlspolicy")

Handler = Callable[[Request], Awaitable[Response]]
PIPELINE_DEPTH = 16
READ_SIZE = 4096


class SocketmapResponder:
    def __init__(self, handler: Handler, *, path: str, mode: int = 0o666, max_request_bytes: int = 1024,
                 request_timeout: float = 30.0, idle_timeout: float = 300.0, max_connections: int = 512) -> None:
        self._handler = handler
        self.path = path
        self._mode = mode
        self._max_request = max_request_bytes
        self._request_timeout = request_timeout
        self._idle_timeout = idle_timeout
        self._max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._server is not None:
            return
        _remove_stale_socket(self.path)
        self._server = await asyncio.start_unix_server(self._serve, path=self.path, limit=READ_SIZE * 4)
        os.chmod(self.path, self._mode)
        log.info("tls policy: socketmap responder listening on %s (mode %o)", self.path, self._mode)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._connections):
            task.cancel()
        for task in list(self._connections):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 5)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        log.info("tls policy: socketmap responder on %s stopped", self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= self._max_connections:
            log.warning("tls policy: %d socketmap connections open; refusing another", len(self._connections))
            writer.close()
            return
        self._connections.add(task)
        try:
            await self._converse(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 2)

    async def _converse(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Payload is "name key": allow the name (a few bytes) on top of the key limit.
        decoder = netstring.NetstringDecoder(self._max_request + 64)
        answers: asyncio.Queue[asyncio.Task[Response] | None] = asyncio.Queue(PIPELINE_DEPTH)
        sender = asyncio.create_task(self._send_in_order(answers, writer))
        try:
            while not sender.done():
                try:
                    data = await asyncio.wait_for(reader.read(READ_SIZE), self._idle_timeout)
                except TimeoutError:
                    break
                if not data:
                    break
                try:
                    payloads = decoder.feed(data)
                except netstring.NetstringError as exc:
                    log.warning("tls policy: socketmap client sent a bad request (%s); closing", exc)
                    break
                for payload in payloads:
                    if not await _put(answers, asyncio.create_task(self._answer(payload)), sender):
                        break
            if await _put(answers, None, sender):
                await sender
        finally:
            if not sender.done():
                sender.cancel()
            elif not sender.cancelled() and sender.exception() is not None:
                log.debug("tls policy: socketmap client went away: %s", sender.exception())
            while not answers.empty():
                pending = answers.get_nowait()
                if pending is not None:
                    pending.cancel()

    async def _send_in_order(self, answers: asyncio.Queue[asyncio.Task[Response] | None],
                             writer: asyncio.StreamWriter) -> None:
        while True:
            task = await answers.get()
            if task is None:
                return
            response = await task
            writer.write(netstring.encode(response.encode()))
            await writer.drain()

    async def _answer(self, payload: bytes) -> Response:
        try:
            request = parse_request(payload)
        except SocketmapError as exc:
            return Response.perm(str(exc))
        try:
            return await asyncio.wait_for(self._handler(request), self._request_timeout)
        except TimeoutError:
            log.warning("tls policy: lookup %s timed out after %ss; answering TEMP", request.key, self._request_timeout)
            return Response.temp("policy lookup timed out")
        except Exception:  # one failed lookup must not end the server
            log.exception("tls policy: lookup %s failed; answering TEMP", request.key)
            return Response.temp("policy lookup failed")


async def _put(queue: asyncio.Queue[asyncio.Task[Response] | None], item: asyncio.Task[Response] | None,
               sender: asyncio.Task[None]) -> bool:
    """Queue `item` unless the sender died first (then the item is cancelled)."""
    if not sender.done():
        putter = asyncio.ensure_future(queue.put(item))
        try:
            await asyncio.wait({putter, sender}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            putter.cancel()
            if item is not None:
                item.cancel()
            raise
        if putter.done():
            return True
        putter.cancel()
    if item is not None:
        item.cancel()
    return False


def _remove_stale_socket(path: str) -> None:
    """Remove a socket file left by a previous run; refuse to delete anything else."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(st.st_mode):
        raise FileExistsError(f"{path} exists and is not a socket; not removing it")
    os.unlink(path)
