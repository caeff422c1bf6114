"""Does a domain's MX offer STARTTLS? Connect, read the banner, EHLO, look, QUIT.

Never sends MAIL, RCPT or DATA. Every step shares one timeout per host; replies are
read with bounded line length and line count, so a hostile server cannot hold us.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from privacy_milter.tlspolicy.dnsclient import DnsClient
from privacy_milter.tlspolicy.model import DnsLookupError, TlsClass

log = logging.getLogger("privacy_milter.tlspolicy")

MAX_REPLY_LINES = 64
MAX_LINE = 1024


class ProbeFailed(Exception):
    """The host did not give a usable SMTP answer."""


async def _reply(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
    lines: list[str] = []
    for _ in range(MAX_REPLY_LINES):
        raw = await reader.readline()
        if not raw:
            raise ProbeFailed("connection closed")
        line = raw.decode("ascii", "replace").rstrip("\r\n")
        if len(line) < 3 or not line[:3].isdigit():
            raise ProbeFailed("not an SMTP reply")
        lines.append(line[4:])
        if len(line) == 3 or line[3] == " ":
            return int(line[:3]), lines
        if line[3] != "-":
            raise ProbeFailed("not an SMTP reply")
    raise ProbeFailed("reply too long")


class Prober:
    def __init__(self, dns: DnsClient, *, port: int = 25, timeout: float = 10.0, helo: str = "localhost",
                 max_hosts: int = 2) -> None:
        self._dns = dns
        self._port = port
        self._timeout = timeout
        self._helo = helo
        self._max_hosts = max_hosts

    async def probe_host(self, address: str, port: int | None = None) -> TlsClass:
        """TLS when EHLO lists STARTTLS, PLAIN when it does not, UNKNOWN on any failure."""
        port = self._port if port is None else port
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self._timeout):
                reader, writer = await asyncio.open_connection(address, port, limit=MAX_LINE)
                code, _ = await _reply(reader)
                if code != 220:
                    raise ProbeFailed(f"banner {code}")
                writer.write(f"EHLO {self._helo}\r\n".encode("ascii"))
                await writer.drain()
                code, lines = await _reply(reader)
                if code != 250:
                    raise ProbeFailed(f"EHLO answered {code}")
                writer.write(b"QUIT\r\n")
                await writer.drain()
                with contextlib.suppress(ProbeFailed, ConnectionError, asyncio.IncompleteReadError):
                    await _reply(reader)
        except (TimeoutError, OSError, ProbeFailed, ValueError, asyncio.LimitOverrunError) as exc:
            log.info("tls probe: %s:%d: %s", address, port, str(exc) or type(exc).__name__)
            return TlsClass.UNKNOWN
        finally:
            if writer is not None:
                writer.close()
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 1)
        keywords = {line.split(" ", 1)[0].upper() for line in lines[1:] if line}
        return TlsClass.TLS if "STARTTLS" in keywords else TlsClass.PLAIN

    async def probe_named_host(self, host: str, port: int | None = None) -> TlsClass:
        """One host by name (a relay's "[relay.example]:587"): its address, then probe_host."""
        address = await self._address(host)
        return TlsClass.UNKNOWN if address is None else await self.probe_host(address, port)

    async def probe_domain(self, domain: str, port: int | None = None) -> TlsClass:
        """Probe up to `max_hosts` MX hosts (lowest preference first): PLAIN if any answers
        without STARTTLS (mail may go there), TLS if any offers it, else UNKNOWN."""
        try:
            hosts = await self._mx_hosts(domain)
        except DnsLookupError as exc:
            log.info("tls probe: %s: %s", domain, exc)
            return TlsClass.UNKNOWN
        results: list[TlsClass] = []
        for host in hosts[: self._max_hosts]:
            address = await self._address(host)
            results.append(TlsClass.UNKNOWN if address is None else await self.probe_host(address, port))
        if TlsClass.PLAIN in results:
            return TlsClass.PLAIN
        if TlsClass.TLS in results:
            return TlsClass.TLS
        return TlsClass.UNKNOWN

    async def _mx_hosts(self, domain: str) -> list[str]:
        mx = await self._dns.query(domain, "MX")
        if not mx.exists:
            return []
        if not mx.records:
            return [domain]
        ordered = sorted(mx.records, key=lambda r: r.preference)
        return [r.exchange.to_text(omit_final_dot=True) for r in ordered if len(r.exchange) > 1]

    async def _address(self, host: str) -> str | None:
        for rdtype in ("A", "AAAA"):
            try:
                answer = await self._dns.query(host, rdtype)
            except DnsLookupError:
                continue
            if answer.records:
                return str(answer.records[0].address)
        return None
