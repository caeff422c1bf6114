"""What a stored record holds, how addresses are hashed, and the interface every backend offers.

A Record is built only from metadata: domains, keyed hashes of addresses, sizes, TLS
facts, finding categories and counts. There is no field that could hold a body, a
subject or a found value, so no code path can store one by mistake.
The interface backends offer is in backend.py; the writer in front of them in writer.py.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from ..errors import StoreError
from ..model import Message, Verdict, domain_of
from .schema import key_fingerprint

KEY_BYTES = 32


class AddressHasher:
    """Keyed hashes of addresses: a subject-access request can find a person's records
    (we hash the address they give us with the same key) but the store alone reveals nobody."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise StoreError("the address hash key is shorter than 16 bytes")
        self._key = key
        # Keyed once: each hash copies this state instead of keying a new HMAC (hashing the
        # padded key twice and looking the digest up in OpenSSL again).
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, address: str) -> str:
        normal = address.strip().strip("<>").lower().encode("utf-8", "surrogateescape")
        mac = self._keyed.copy()
        mac.update(normal)
        return mac.hexdigest()[:32]

    def fingerprint(self) -> str:
        """Names this key without revealing it (kept in the store to catch a mismatched key)."""
        return key_fingerprint(self._key)

    @classmethod
    def from_file(cls, path: Path) -> "AddressHasher":
        """Read the key, or create it (mode 0600, never overwriting) on first start."""
        try:
            return cls(path.read_bytes())
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise StoreError(f"cannot read the address hash key {path}: {exc.strerror}") from None
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(KEY_BYTES))
        except FileExistsError:
            pass  # another process created it first: use theirs
        except OSError as exc:
            raise StoreError(f"cannot create the address hash key {path}: {exc.strerror}") from None
        return cls(path.read_bytes())


@dataclass(frozen=True)
class Record:
    time: float
    queue_id: str
    direction: str
    direction_reason: str
    client_addr: str
    sender_domain: str
    sender_hash: str
    recipients: tuple[tuple[str, str], ...]        # (domain, address hash)
    size: int
    tls_version: str
    tls_cipher: str
    action: str
    findings: tuple[tuple[str, str, int], ...]     # (category, confidence, count)
    facts: tuple[tuple[str, str], ...]             # (name, value): scanner verdicts and the like
    errors: tuple[str, ...]                        # filters that failed for this message
    host: str = ""                                 # empty: the writing backend's host name


def record_from(message: Message, verdict: Verdict, hasher: AddressHasher,
                now: float | None = None) -> Record:
    session = message.session
    return Record(
        time=time.time() if now is None else now,
        queue_id=message.queue_label,
        direction=message.decision.direction.value if message.decision else "",
        direction_reason=message.decision.reason if message.decision else "",
        client_addr=session.client_addr or "",
        sender_domain=message.sender_domain,
        sender_hash=hasher(message.mail_from) if message.mail_from else "",
        recipients=tuple((domain_of(r.address), hasher(r.address)) for r in message.recipients),
        size=message.body_size,
        tls_version=session.tls.version or "",
        tls_cipher=session.tls.cipher or "",
        action=verdict.action.label,
        findings=tuple((f.category, f.confidence.label, f.count) for f in verdict.findings),
        facts=tuple(fact for r in verdict.results for fact in r.facts),
        errors=tuple(r.filter for r in verdict.results if r.error),
    )
