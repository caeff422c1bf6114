"""The scanning engines of the pipeline's filters: clamd (virus) and spamd or rspamd (spam),
each asked its own PING, bounded. An engine no listed filter uses is not asked."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

from .model import Finding, Setup, fail, ok, skip

ENGINES = "scanners"
TIMEOUT = 2.0


def check(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(ENGINES, "could not check: the policy does not parse")]
    found = []
    if "virus" in setup.policy.filters:
        found.append(_clamd(setup.settings("virus").address))
    if "spam" in setup.policy.filters:
        s = setup.settings("spam")
        found.append(_rspamd(s.address) if s.backend == "rspamd" else _spamd(s.address))
    return found or [ok(ENGINES, "not needed: neither virus nor spam is in [pipeline] filters")]


def _connect(address: str) -> socket.socket:
    kind, _, rest = address.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect(rest)
        except OSError:
            s.close()
            raise
        return s
    host, _, port = rest.rpartition(":")
    return socket.create_connection((host.strip("[]"), int(port)), timeout=TIMEOUT)


def _ask(address: str, request: bytes) -> bytes:
    with _connect(address) as s:
        s.settimeout(TIMEOUT)
        s.sendall(request)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while len(out) < 4096 and (chunk := s.recv(4096)):
            out += chunk
    return out


def _down(what: str, address: str, exc: OSError, unit: str) -> Finding:
    return fail(ENGINES, f"{what} at {address}: {exc.strerror or type(exc).__name__}; opted-in mail gets the "
                         "filter's on_error", f"systemctl start {unit} (or fix the address in the policy)")


def _clamd(address: str) -> Finding:
    try:
        answer = _ask(address, b"zPING\0")
    except OSError as exc:
        return _down("clamd (virus)", address, exc, "clamav-daemon")
    if answer.rstrip(b"\0") != b"PONG":
        return fail(ENGINES, f"clamd (virus) at {address} answered {answer[:40]!r}, not PONG")
    return ok(ENGINES, f"clamd (virus) at {address} answers PING")


def _spamd(address: str) -> Finding:
    try:
        answer = _ask(address, b"PING SPAMC/1.5\r\n\r\n")
    except OSError as exc:
        return _down("spamd (spam)", address, exc, "spamd")
    if b"PONG" not in answer.split(b"\r\n", 1)[0]:
        return fail(ENGINES, f"spamd (spam) at {address} answered {answer[:40]!r}, not PONG")
    return ok(ENGINES, f"spamd (spam) at {address} answers PING")


def _rspamd(url: str) -> Finding:
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via http_proxy
        with opener.open(url.rstrip("/") + "/ping", timeout=TIMEOUT) as reply:
            answer = reply.read(64)
    except urllib.error.HTTPError as exc:
        return fail(ENGINES, f"rspamd (spam) at {url} answered HTTP {exc.code}: is it rspamd's normal worker?")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        text = getattr(reason, "strerror", None) or str(reason)
        return fail(ENGINES, f"rspamd (spam) at {url}: {text}; opted-in mail gets the filter's on_error",
                    "systemctl start rspamd (or fix [filters.spam] address)")
    if not answer.strip().startswith(b"pong"):
        return fail(ENGINES, f"rspamd (spam) at {url} answered {answer[:40]!r}, not pong")
    return ok(ENGINES, f"rspamd (spam) at {url} answers ping")
