"""Who sent a report mail: the domains of its DKIM signatures that verify.

dkimpy's DNS hook is synchronous, so the key records are fetched first, concurrently,
through the injected async resolver (services.TxtResolver), and dkimpy then verifies in a
thread with a dnsfunc that only reads those answers (the DKIM filter does the same; its
package is its own, so this is the reports filter's small copy of the idea, not an import).
A lookup that fails or times out leaves that signature unverified: never a pass.
"""

from __future__ import annotations

import asyncio
import logging

import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from privacy_milter.services import TxtResolver

log = logging.getLogger("privacy_milter.reports")
MAX_SIGNATURES = 5


def _signatures(raw: bytes) -> list[tuple[str, str]]:
    """(domain, selector) of each DKIM-Signature header, in order, at most MAX_SIGNATURES."""
    found: list[tuple[str, str]] = []
    try:
        headers, _ = dkim.rfc822_parse(raw)
    except Exception:  # dkimpy raises several kinds on a malformed header block: nothing verifies then
        return []
    for name, value in headers:
        if name.lower() != b"dkim-signature" or len(found) >= MAX_SIGNATURES:
            continue
        try:
            tags = parse_tag_value(value)
        except InvalidTagValueList:
            found.append(("", ""))
            continue
        d = tags.get(b"d", b"").decode("ascii", "replace").strip().lower().rstrip(".")
        s = tags.get(b"s", b"").decode("ascii", "replace").strip().lower()
        found.append((d, s))
    return found


async def _fetch(name: str, txt: TxtResolver, timeout: float) -> bytes | None:
    try:
        records = await asyncio.wait_for(txt(name), timeout)
    except Exception:  # time-out, SERVFAIL, NXDOMAIN: this signature cannot verify
        return None
    return records[0] if len(records) == 1 else None


def _verify(raw: bytes, count: int, keys: dict[str, bytes | None]) -> list[bool]:
    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        return keys.get(name.decode("ascii", "replace").lower().rstrip(".")) or b""

    checker = dkim.DKIM(raw)
    out = []
    for idx in range(count):
        try:
            out.append(bool(checker.verify(idx=idx, dnsfunc=dnsfunc)))
        except Exception:  # dkim.ValidationError and kin: that signature does not verify
            out.append(False)
    return out


async def verified_domains(raw: bytes, txt: TxtResolver, timeout: float) -> list[str]:
    """The d= of every signature that verifies, in header order."""
    sigs = _signatures(raw)
    if not sigs:
        return []
    names = {f"{s}._domainkey.{d}" for d, s in sigs if d and s}
    answers = await asyncio.gather(*(_fetch(n, txt, timeout) for n in sorted(names)))
    keys = dict(zip(sorted(names), answers))
    results = await asyncio.to_thread(_verify, raw, len(sigs), keys)
    return [d for (d, _s), ok in zip(sigs, results) if ok and d]
