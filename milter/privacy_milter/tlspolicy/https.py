"""Fetching policy files over HTTPS with aiohttp: no redirects, 200 only, text/plain,
a size cap and one timeout for the whole exchange (RFC 8461 §3.3)."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Mapping

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from privacy_milter.tlspolicy.model import MtaStsError

WELL_KNOWN = "/.well-known/mta-sts.txt"


class StaticHostResolver(AbstractResolver):
    """host name → (address, port), for tests and pinned deployments: the URL keeps the
    real host name (SNI and certificate checks use it) while the connection goes here."""

    def __init__(self, mapping: Mapping[str, tuple[str, int]]) -> None:
        self._mapping = {k.lower(): v for k, v in mapping.items()}

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        try:
            address, real_port = self._mapping[host.lower()]
        except KeyError:
            raise OSError(f"{host}: not in the static host map") from None
        fam = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [ResolveResult(hostname=host, host=address, port=real_port, family=fam,
                              proto=0, flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


class PolicyFetcher:
    """One aiohttp session for all policy fetches, opened by start() on the running loop."""

    def __init__(self, *, timeout: float, max_bytes: int, ssl_context: ssl.SSLContext | None = None,
                 host_resolver: AbstractResolver | None = None) -> None:
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._ssl: ssl.SSLContext = ssl_context or ssl.create_default_context()
        self._host_resolver = host_resolver
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(ssl=self._ssl, resolver=self._host_resolver,
                                         use_dns_cache=False, limit=32, force_close=True)
        self._session = aiohttp.ClientSession(connector=connector, trust_env=False,
                                              headers={"User-Agent": "privacy-milter-mta-sts"})

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, domain: str) -> str:
        """The policy text of `domain` (an A-label). Raises MtaStsError with the reason."""
        if self._session is None:
            raise MtaStsError("policy fetcher not started")
        url = f"https://mta-sts.{domain}{WELL_KNOWN}"
        try:
            # aiohttp's own timeout closes the connection cleanly; the outer one is a backstop
            async with asyncio.timeout(self._timeout + 1):
                async with self._session.get(url, allow_redirects=False,
                                             timeout=aiohttp.ClientTimeout(total=self._timeout)) as resp:
                    if resp.status != 200:
                        raise MtaStsError(f"{url}: HTTP status {resp.status}, not 200")
                    if resp.content_type != "text/plain":
                        raise MtaStsError(f"{url}: content type {resp.content_type[:40]!r}, not text/plain")
                    if resp.content_length is not None and resp.content_length > self._max_bytes:
                        raise MtaStsError(f"{url}: policy larger than {self._max_bytes} bytes")
                    body = await self._read_capped(resp, url)
        except TimeoutError:
            raise MtaStsError(f"{url}: no policy within {self._timeout}s") from None
        except aiohttp.ClientError as exc:
            raise MtaStsError(f"{url}: {type(exc).__name__}: {str(exc)[:200]}") from None
        except (OSError, ssl.SSLError) as exc:
            raise MtaStsError(f"{url}: {type(exc).__name__}: {str(exc)[:200]}") from None
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise MtaStsError(f"{url}: policy is not UTF-8") from None

    async def _read_capped(self, resp: aiohttp.ClientResponse, url: str) -> bytes:
        body = bytearray()
        while len(body) <= self._max_bytes:
            chunk = await resp.content.read(self._max_bytes + 1 - len(body))
            if not chunk:
                return bytes(body)
            body += chunk
        raise MtaStsError(f"{url}: policy larger than {self._max_bytes} bytes")
