"""Small builders several test files share (a test module imports these, never another
test module's private helpers)."""

from __future__ import annotations

from email.message import EmailMessage

from privacy_milter.model import (Action, Confidence, Direction, DirectionDecision, Finding, Message,
                                  Recipient, Result, Session, TlsInfo, Verdict)
from privacy_milter.store import AddressHasher, Record, record_from

# The daemon's policy for tests whose mail comes from 127.0.0.1 (Postfix on loopback).
LOOPBACK_POLICY = '[log]\nlevel = "debug"\n[network]\ntrusted_networks = ["127.0.0.1/32"]\n'


def numbered_message(n: int) -> bytes:
    """A small message whose Subject is `n{n}`: tests count and find them by number."""
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "alice@shop.example", "bob@far.example", f"n{n}"
    m.set_content(f"message number {n}")
    return m.as_bytes()


def make_record(hasher: AddressHasher, when: float | None = None, sender: str = "Alice@Shop.example",
                rcpts: tuple[str, ...] = ("bob@far.example",)) -> Record:
    """The store record of an outbound message tagged for one card (TLS 1.3)."""
    m = Message(Session("c", client_addr="192.0.2.1", tls=TlsInfo("TLSv1.3", "TLS_AES_256_GCM_SHA384")),
                mail_from=sender, recipients=[Recipient(r) for r in rcpts], queue_id="4ABC")
    m.direction = DirectionDecision(Direction.OUTBOUND, "auth")
    m.write_body(b"Subject-less body with card 4111 1111 1111 1111")
    v = Verdict(Action.TAG, (Result("dlp", Action.TAG, findings=(Finding("payment_card", Confidence.HIGH, 1),),
                                    facts=(("dlp", "scanned"),)),))
    r = record_from(m, v, hasher, when)
    m.close()
    return r
