"""Ask an MX for STARTTLS and verify the certificate it presents, as an MTA-STS sender does
(RFC 8461 §4.2: valid for the MX host name, chaining to a trusted root, not expired).

Every step is bounded by one timeout; the answer is a sentence for the admin, never a
traceback. `connect` is injectable so tests reach a throwaway Postfix on a loopback port
under the MX's real name (SNI and name checks still use that name).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, UTC

Connect = Callable[[str, int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
MAX_REPLY_LINES = 100
MAX_LINE = 4096


@dataclass(frozen=True)
class CertResult:
    ok: bool
    detail: str  # "valid for mx1.example.net, expires 2027-03-01" or what is wrong


async def default_connect(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(host, port, limit=MAX_LINE * 2)


async def _reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    lines: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        raw = await reader.readline()
        if not raw:
            raise ConnectionError("the server closed the connection")
        line = raw.decode("ascii", "replace").rstrip("\r\n")
        lines.append(line[4:])
        if len(line) < 4 or line[3] != "-":
            code = line[:3]
            return (int(code) if code.isdigit() else 0), lines
    raise ConnectionError(f"a reply of more than {MAX_REPLY_LINES} lines")


async def _starttls(host: str, port: int, ctx: ssl.SSLContext, connect: Connect) -> dict:
    reader, writer = await connect(host, port)
    try:
        code, _ = await _reply(reader)
        if code != 220:
            raise ConnectionError(f"greeting {code}, not 220")
        writer.write(b"EHLO mta-sts-check.invalid\r\n")
        code, lines = await _reply(reader)
        if code != 250:
            raise ConnectionError(f"EHLO answered {code}")
        if not any(ln.upper().startswith("STARTTLS") for ln in lines):
            raise ConnectionError("STARTTLS not offered")
        writer.write(b"STARTTLS\r\n")
        code, _ = await _reply(reader)
        if code != 220:
            raise ConnectionError(f"STARTTLS answered {code}")
        await writer.start_tls(ctx, server_hostname=host)
        cert = writer.get_extra_info("peercert") or {}
        writer.write(b"QUIT\r\n")
        return cert
    finally:
        writer.close()


def _expiry(cert: dict) -> str:
    not_after = cert.get("notAfter")
    if not isinstance(not_after, str):
        return ""
    when = datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)
    return f", expires {when:%Y-%m-%d}"


async def check_certificate(host: str, port: int, *, ctx: ssl.SSLContext | None = None,
                            connect: Connect = default_connect, timeout: float = 15.0) -> CertResult:
    """Whether `host` presents, after STARTTLS on `port`, a certificate a sender accepts."""
    ctx = ctx or ssl.create_default_context()
    try:
        async with asyncio.timeout(timeout):
            cert = await _starttls(host, port, ctx, connect)
    except ssl.SSLCertVerificationError as exc:
        return CertResult(False, f"certificate not accepted: {exc.verify_message or exc.reason}")
    except TimeoutError:
        return CertResult(False, f"no STARTTLS answer within {timeout:g}s on port {port}")
    except (OSError, ssl.SSLError, ConnectionError) as exc:
        return CertResult(False, f"STARTTLS on port {port} failed: {type(exc).__name__}: {str(exc)[:160]}")
    return CertResult(True, f"certificate valid for {host}{_expiry(cert)}")
