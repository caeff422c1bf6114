"""An HTTPS server for MTA-STS policy files, with a throwaway CA (trustme), on loopback.

One server answers for many `mta-sts.DOMAIN` names (its certificate lists them all);
what each host serves is set per test, with knobs for the failures RFC 8461 cares about:

    with MtaStsHttpsServer(["example.test"]) as web:
        web.set_policy("example.test", mode="enforce", mx=["mx.example.test"], max_age=86400)
        web.set_raw("example.test", b"...", status=404 | content_type=... | location=... | delay=...)
        client_ctx = web.client_context()   # trusts only the test CA
        hosts = web.host_map()              # {"mta-sts.example.test": ("127.0.0.1", port)}

Runs in its own threads (http.server), so it serves sync and async tests alike.
"""

from __future__ import annotations

import collections
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

import trustme

WELL_KNOWN = "/.well-known/mta-sts.txt"


@dataclass
class Reply:
    body: bytes
    status: int = 200
    content_type: str = "text/plain"
    location: str | None = None
    delay: float = 0.0  # seconds before answering (timeouts)


def policy_text(mode: str = "enforce", mx: Iterable[str] = (), max_age: int = 86400,
                version: str = "STSv1", newline: str = "\r\n") -> str:
    lines = [f"version: {version}", f"mode: {mode}", *(f"mx: {m}" for m in mx), f"max_age: {max_age}"]
    return newline.join(lines) + newline


class MtaStsHttpsServer:
    def __init__(self, domains: Iterable[str], host: str = "127.0.0.1", ca: trustme.CA | None = None) -> None:
        self.domains = [d.lower().rstrip(".") for d in domains]
        self.host = host
        self.port = 0
        self.ca = ca or trustme.CA(organization_name="privacy-milter tlspolicy tests")
        self._cert = self.ca.issue_cert(*(f"mta-sts.{d}" for d in self.domains))
        self._replies: dict[str, Reply] = {}
        self._lock = threading.Lock()
        self.hits: collections.Counter[str] = collections.Counter()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what to serve --------------------------------------------------------------------
    def set_policy(self, domain: str, *, mode: str = "enforce", mx: Iterable[str] = (), max_age: int = 86400,
                   **knobs: object) -> None:
        self.set_raw(domain, policy_text(mode, mx, max_age).encode(), **knobs)  # type: ignore[arg-type]

    def set_raw(self, domain: str, body: bytes, *, status: int = 200, content_type: str = "text/plain",
                location: str | None = None, delay: float = 0.0) -> None:
        with self._lock:
            self._replies[f"mta-sts.{domain.lower()}"] = Reply(body, status, content_type, location, delay)

    def set_oversize(self, domain: str, size: int = 65536 + 1) -> None:
        head = policy_text("enforce", [f"mx.{domain}"]).encode()
        self.set_raw(domain, head + b"#" * max(0, size - len(head)))

    def clear(self, domain: str) -> None:
        """Answer 404 for this domain from now on."""
        with self._lock:
            self._replies.pop(f"mta-sts.{domain.lower()}", None)

    def reply_for(self, host: str) -> Reply | None:
        with self._lock:
            return self._replies.get(host)

    # --- clients ----------------------------------------------------------------------------
    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        ctx.load_verify_locations(cadata=self.ca.cert_pem.bytes().decode())
        return ctx

    def host_map(self) -> dict[str, tuple[str, int]]:
        return {f"mta-sts.{d}": (self.host, self.port) for d in self.domains}

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> MtaStsHttpsServer:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._cert.configure_cert(ctx)
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 10

            def setup(self) -> None:
                self.request.settimeout(10)
                try:
                    self.request.do_handshake()
                except (OSError, ssl.SSLError):
                    self.request.close()
                    raise
                super().setup()

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0].lower()
                owner.hits[host] += 1
                reply = owner.reply_for(host)
                if self.path != WELL_KNOWN or reply is None:
                    reply = Reply(b"not found\n", status=404)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(reply.body)))
                    if reply.location:
                        self.send_header("Location", reply.location)
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self) -> tuple[socket.socket, object]:
                conn, addr = self.socket.accept()
                return ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False), addr

            def handle_error(self, request: object, client_address: object) -> None:
                return None

        self._server = Server((self.host, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="mta-sts-https", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> MtaStsHttpsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
