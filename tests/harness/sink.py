"""The destination: an aiosmtpd server on 127.0.0.1 that records every message it receives.

Postfix relays to it (`relayhost = [127.0.0.1]:PORT`); tests read what arrived with
`wait_for(count, timeout)`. aiosmtpd's Controller runs the server in its own thread and
checks readiness by reading the banner itself.
"""

from __future__ import annotations

import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from .ports import free_port

# Postfix forwards what it accepted; the 50 MB tests must fit (aiosmtpd's default is 32 MiB).
DATA_SIZE_LIMIT = 256 * 1024 * 1024


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes  # the DATA as received, CRLF line ends, dot-unstuffed
    tls: bool
    tls_version: str | None  # e.g. "TLSv1.3"
    cipher: str | None  # e.g. "TLS_AES_256_GCM_SHA384"
    peer: tuple[str, int] | None
    helo: str | None
    mail_options: tuple[str, ...] = ()
    rcpt_options: tuple[str, ...] = ()
    received_at: float = field(default_factory=time.time)


class _Recorder:
    """aiosmtpd handler: records at DATA, answers 250."""

    def __init__(self, sink: "Sink") -> None:
        self._sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        tls_version = cipher = None
        extra: dict[str, Any] | None = session.ssl
        if extra:
            obj = extra.get("ssl_object")
            tls_version = obj.version() if obj is not None else None
            info = extra.get("cipher")
            cipher = info[0] if info else None
        raw = envelope.original_content if envelope.original_content is not None else envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        peer = session.peer if isinstance(session.peer, tuple) else None
        msg = ReceivedMessage(
            mail_from=envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            raw=raw or b"",
            tls=bool(extra),
            tls_version=tls_version,
            cipher=cipher,
            peer=(peer[0], peer[1]) if peer else None,
            helo=session.host_name,
            mail_options=tuple(envelope.mail_options),
            rcpt_options=tuple(envelope.rcpt_options),
        )
        reply = self._sink.data_reply
        if reply.startswith("2"):
            self._sink._record(msg)
        else:
            self._sink._refuse(msg)
        return reply


class _Recorder7Bit(_Recorder):
    """The same, for a server that does not announce 8BITMIME (an old or strict receiver):
    Postfix must then either send 8-bit data anyway or convert it."""

    async def handle_EHLO(self, server: SMTP, session: Session, envelope: Envelope, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        return [r for r in responses if r[4:].upper() != "8BITMIME"]


class Sink:
    """aiosmtpd on 127.0.0.1:<free port>, optionally with STARTTLS (and optionally requiring it).

    Thread-safe: messages are recorded from the server thread and read from tests.
    Use as a context manager or call start()/stop().
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int | None = None,
                 tls_cert: str | None = None, tls_key: str | None = None,
                 require_starttls: bool = False, hostname: str = "sink.harness.test",
                 announce_8bitmime: bool = True) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.hostname = hostname
        self._cond = threading.Condition()
        self._messages: list[ReceivedMessage] = []
        self._controller: Controller | None = None
        self.tls_context: ssl.SSLContext | None = None
        if tls_cert:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls_cert), str(tls_key) if tls_key else None)
            self.tls_context = ctx
        elif require_starttls:
            raise ValueError("require_starttls needs tls_cert")
        self.require_starttls = require_starttls
        self.announce_8bitmime = announce_8bitmime
        # The answer to DATA. Set e.g. "451 4.3.0 try later" to make Postfix defer; refused
        # messages are kept in `refused`, not in `messages`.
        self.data_reply = "250 2.0.0 OK sink"
        self._refused: list[ReceivedMessage] = []

    # --- life cycle -----------------------------------------------------------------------
    def start(self) -> "Sink":
        kwargs: dict[str, Any] = dict(
            hostname=self.host, port=self.port, server_hostname=self.hostname,
            data_size_limit=DATA_SIZE_LIMIT, enable_SMTPUTF8=True, decode_data=False,
            ready_timeout=10.0,
        )
        if self.tls_context is not None:
            kwargs.update(tls_context=self.tls_context, require_starttls=self.require_starttls)
        recorder = _Recorder(self) if self.announce_8bitmime else _Recorder7Bit(self)
        self._controller = Controller(recorder, **kwargs)
        self._controller.start()  # returns once aiosmtpd has read its own banner
        return self

    def stop(self) -> None:
        if self._controller is not None:
            try:
                self._controller.stop()
            finally:
                self._controller = None

    def __enter__(self) -> "Sink":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- recorded mail --------------------------------------------------------------------
    def _record(self, msg: ReceivedMessage) -> None:
        with self._cond:
            self._messages.append(msg)
            self._cond.notify_all()

    def _refuse(self, msg: ReceivedMessage) -> None:
        with self._cond:
            self._refused.append(msg)
            self._cond.notify_all()

    @property
    def refused(self) -> list[ReceivedMessage]:
        """Messages answered with a non-2xx `data_reply`."""
        with self._cond:
            return list(self._refused)

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A copy of what arrived so far, in arrival order."""
        with self._cond:
            return list(self._messages)

    def count(self) -> int:
        with self._cond:
            return len(self._messages)

    def clear(self) -> None:
        with self._cond:
            self._messages.clear()
            self._refused.clear()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[ReceivedMessage]:
        """Block until at least `count` messages arrived; return them all. AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"sink on port {self.port}: {len(self._messages)} messages after {timeout}s, "
                        f"expected {count}")
                self._cond.wait(min(left, 1.0))
            return list(self._messages)

    def arrived(self, marker: bytes | str, timeout: float = 30.0) -> ReceivedMessage:
        """The received message that contains `marker` (other tests' late mail may share the
        sink), waiting for it up to `timeout`. AssertionError on timeout."""
        needle = marker.encode() if isinstance(marker, str) else marker
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self._messages:
                    if needle in m.raw:
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no message with {needle!r} arrived within {timeout}s")
                self._cond.wait(min(left, 1.0))


def arrived(sink: Sink, marker: bytes | str, timeout: float = 30.0) -> ReceivedMessage:
    """`sink.arrived(marker, timeout)`, as a function for tests that pass the sink around."""
    return sink.arrived(marker, timeout)
