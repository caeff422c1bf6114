"""Shared helpers for the DKIM tests: keys made once, a dict DNS, the dkimpy verifier."""

from __future__ import annotations

import asyncio
import functools
import os
import tempfile
from pathlib import Path

import dkim

from privacy_filters.dkim.dns import DnsNameError, DnsTemporaryError
from privacy_filters.dkim.keys import SigningKey, dns_record, keygen, load_key
from privacy_filters.dkim.settings import DkimSettings

DOMAIN = "example.co.uk"


@functools.cache
def _key_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="dkim-test-keys-"))


@functools.cache
def make_key(selector: str, algorithm: str, domain: str = DOMAIN) -> SigningKey:
    """A key written by keygen (so every test also exercises it), loaded back."""
    path, _ = keygen(domain, selector, algorithm, _key_dir())  # type: ignore[arg-type]
    return load_key(path, algorithm, selector)  # type: ignore[arg-type]


def rsa_key() -> SigningKey:
    return make_key("r2025", "rsa-sha256")


def ed_key() -> SigningKey:
    return make_key("e2025", "ed25519-sha256")


def records(*keys: SigningKey, domain: str = DOMAIN) -> dict[str, bytes]:
    return {f"{k.selector}._domainkey.{domain}": dns_record(k).encode() for k in keys}


def dnsfunc_for(table: dict[str, bytes]):
    """dkimpy's synchronous dnsfunc over a dict: the receiving side of the tests."""
    def dnsfunc(name: bytes, timeout: int = 5) -> bytes:
        return table.get(name.decode().rstrip("."), b"")
    return dnsfunc


def receiver_verifies(message: bytes, table: dict[str, bytes]) -> list[bool]:
    """dkimpy's own verdict on every signature, as a receiving MTA would give it."""
    d = dkim.DKIM(message)
    n = sum(1 for name, _ in d.headers if name.lower() == b"dkim-signature")
    verdicts = []
    for i in range(n):
        try:
            verdicts.append(bool(d.verify(idx=i, dnsfunc=dnsfunc_for(table))))
        except dkim.ValidationError:   # dkimpy raises on a body hash mismatch
            verdicts.append(False)
    return verdicts


class DictResolver:
    """The injected async resolver: a dict of names, plus names that time out or SERVFAIL."""

    def __init__(self, table: dict[str, bytes | list[bytes]], slow: set[str] = frozenset(),
                 servfail: set[str] = frozenset()) -> None:
        self.table = {k.lower(): v for k, v in table.items()}
        self.slow = slow
        self.servfail = servfail
        self.asked: list[str] = []

    async def __call__(self, name: str) -> list[bytes]:
        self.asked.append(name)
        if name in self.slow:
            await asyncio.sleep(30)   # longer than any test's timeout: the caller must give up
        if name in self.servfail:
            raise DnsTemporaryError("SERVFAIL")
        if name.lower() not in self.table:
            raise DnsNameError(name)
        value = self.table[name.lower()]
        return value if isinstance(value, list) else [value]


def signed_message(raw: bytes, headers: list[tuple[str, str]]) -> bytes:
    """The message as the receiver sees it: each header inserted at index 0, in order given
    (so the first returned ends up lowest of the new ones, as with repeated insheader(0))."""
    out = raw
    for name, value in headers:
        out = f"{name}: {value}\r\n".encode("ascii") + out
    return out


def settings(*keys: SigningKey, domain: str = DOMAIN, **kw) -> DkimSettings:
    from types import MappingProxyType
    return DkimSettings(keys=MappingProxyType({domain: tuple(keys)}), authserv_id="mx.test", **kw)


def private_copy(path: Path, mode: int) -> Path:
    fd, name = tempfile.mkstemp(dir=_key_dir())
    os.write(fd, path.read_bytes())
    os.close(fd)
    os.chmod(name, mode)
    return Path(name)
