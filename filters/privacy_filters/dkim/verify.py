"""Verify every DKIM-Signature of an inbound message, and write RFC 8601 results.

dkimpy's DNS hook is synchronous, so the key records are fetched first, concurrently,
through the injected async resolver; dkimpy then verifies (CPU work, in a thread) with a
dnsfunc that only reads those answers. The lookup outcome decides what dkimpy cannot tell
apart (it reports a time-out and a bad key alike as "False"): a time-out or SERVFAIL is
temperror, never none; a missing or unusable key record is permerror.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import authres
import dkim
from dkim.util import InvalidTagValueList, parse_tag_value

from .dns import DnsNameError, DnsTemporaryError, DnsTimeout, TxtResolver

log = logging.getLogger(__name__)

Result = Literal["pass", "fail", "neutral", "temperror", "permerror", "none"]
MIN_KEY_BITS = 1024  # RFC 8301: verifiers accept RSA keys from 1024 bits
TIME_OUT = "time-out"


@dataclass(frozen=True)
class DkimResult:
    result: Result
    domain: str | None = None      # header.d
    selector: str | None = None    # header.s
    algorithm: str | None = None   # header.a
    key_bits: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class _Lookup:
    record: bytes | None
    result: Result | None = None   # set when the lookup already decides the signature
    reason: str = ""


def _text(value: bytes | None) -> str | None:
    return value.decode("ascii", "replace") if value is not None else None


def _key_name(tags: dict[bytes, bytes]) -> str:
    return f"{_text(tags[b's'])}._domainkey.{_text(tags[b'd'])}".lower().rstrip(".")


async def _lookup(name: str, resolver: TxtResolver, timeout: float) -> _Lookup:
    try:
        records = await asyncio.wait_for(resolver(name), timeout)
    except (DnsTimeout, TimeoutError):
        # Ours (wait_for: a bare TimeoutError, whose text is empty) or the resolver's own
        # lifetime, whichever came first: the same fact, said the same way (docs/DKIM.md).
        return _Lookup(None, "temperror", f"key lookup failed: {TIME_OUT}")
    except DnsTemporaryError as exc:
        return _Lookup(None, "temperror", f"key lookup failed: {exc}"[:200])
    except DnsNameError:
        return _Lookup(None, "permerror", "no key record")
    keys = [r for r in records if b"p=" in r]
    if not keys:
        return _Lookup(None, "permerror", "no key record")
    record = keys[0]
    try:
        dkim.evaluate_pk(name.encode("ascii"), record)
    except (dkim.DKIMException, binascii.Error, ValueError, IndexError) as exc:
        return _Lookup(None, "permerror", f"bad key record: {exc}"[:200])
    return _Lookup(record)


def _signature_tags(value: bytes) -> tuple[dict[bytes, bytes] | None, str]:
    try:
        tags = parse_tag_value(value)
    except InvalidTagValueList:
        return None, "signature syntax error"
    missing = [t.decode() for t in (b"v", b"a", b"b", b"bh", b"d", b"h", b"s") if t not in tags]
    if missing:
        return None, f"signature lacks {', '.join(missing)}="
    try:
        dkim.validate_signature_fields(tags)   # version, i= within d=, expiry
    except dkim.ValidationError as exc:
        return None, str(exc)[:200]
    if tags[b"a"] not in (b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1"):
        return None, f"unknown algorithm {_text(tags[b'a'])}"
    return tags, ""


def _check_all(raw: bytes, sigs: Sequence[tuple[dict[bytes, bytes] | None, str]],
               lookups: dict[str, _Lookup], timeout: float) -> list[DkimResult]:
    """The CPU part: dkimpy over each signature whose key record was fetched and usable."""
    d = dkim.DKIM(raw, logger=log, minkey=MIN_KEY_BITS, timeout=int(max(1, timeout)))

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        found = lookups.get(name.decode("ascii", "replace").lower().rstrip("."))
        return found.record if found and found.record else b""

    out: list[DkimResult] = []
    for idx, (tags, reason) in enumerate(sigs):
        if tags is None:
            out.append(DkimResult("neutral", reason=reason))
            continue
        def ident(result: Result, reason: str = "", bits: int | None = None,
                  tags: dict[bytes, bytes] = tags) -> DkimResult:
            return DkimResult(result, _text(tags[b"d"]), _text(tags[b"s"]), _text(tags[b"a"]), bits, reason)

        found = lookups[_key_name(tags)]
        if found.result is not None:
            out.append(ident(found.result, found.reason))
            continue
        k = parse_tag_value(found.record or b"").get(b"k", b"rsa")
        if not tags[b"a"].startswith(k + b"-"):
            out.append(ident("permerror", f"key type {_text(k)} does not match a="))
            continue
        try:
            ok = d.verify(idx, dnsfunc=dnsfunc)
        except dkim.KeyFormatError as exc:
            out.append(ident("permerror", str(exc)[:200]))
            continue
        except dkim.ValidationError as exc:   # the fields were checked above: this is a hash mismatch
            out.append(ident("fail", str(exc).partition(" (")[0][:200]))
            continue
        except (dkim.MessageFormatError, dkim.ParameterError) as exc:
            out.append(ident("neutral", str(exc)[:200]))
            continue
        except dkim.DKIMException as exc:
            out.append(ident("permerror", str(exc)[:200]))
            continue
        bits = d.keysize or None
        out.append(ident("pass" if ok else "fail", "" if ok else "signature did not verify", bits))
    return out


async def verify(raw: bytes, resolver: TxtResolver, timeout: float) -> list[DkimResult]:
    """One result per DKIM-Signature, top first; [DkimResult("none")] for an unsigned message."""
    headers, _ = dkim.rfc822_parse(raw)
    sigs = [_signature_tags(value) for name, value in headers if name.lower() == b"dkim-signature"]
    if not sigs:
        return [DkimResult("none")]
    names = sorted({_key_name(tags) for tags, _ in sigs if tags is not None})
    answers = await asyncio.gather(*(_lookup(n, resolver, timeout) for n in names))
    lookups = dict(zip(names, answers))
    return await asyncio.to_thread(_check_all, raw, sigs, lookups, timeout)


# --- Authentication-Results -------------------------------------------------------------

def authentication_results(authserv_id: str, results: Sequence[DkimResult]) -> str:
    """The value of one RFC 8601 Authentication-Results header (without the field name)."""
    entries = []
    for r in results:
        if r.result == "none":
            entries.append(authres.DKIMAuthenticationResult(result="none"))
            continue
        comment = f"{r.key_bits}-bit key" if r.key_bits else None
        entries.append(authres.DKIMAuthenticationResult(
            result=r.result, result_comment=comment, reason=r.reason or None,
            header_d=r.domain, header_s=r.selector, header_a=r.algorithm))
    header = authres.AuthenticationResultsHeader(authserv_id=authserv_id, results=entries)
    return header.header_value()


_FIRST_TOKEN = re.compile(r"\s*(?:\([^)]*\)\s*)*([^\s;(]+)")


def forged_ar(header_value: str, authserv_id: str) -> bool:
    """Whether an inbound Authentication-Results value claims our authserv-id (RFC 8601 §5:
    such a header did not come from us and must be removed before ours is added)."""
    text = re.sub(r"\r?\n", "", header_value)
    try:
        claimed = authres.AuthenticationResultsHeader.parse_value(text).authserv_id
    except Exception:  # authres raises several types, and odd input must not escape the check
        m = _FIRST_TOKEN.match(text)
        claimed = m.group(1) if m else ""
    return bool(claimed) and claimed.lower().rstrip(".") == authserv_id.lower().rstrip(".")
