"""bench/floor_milter.py behind a real Postfix: the throughput floor does the work it claims
(a DKIM signature a receiver verifies, over the bytes Postfix delivers), and never refuses."""

from __future__ import annotations

import os
import shutil
import smtplib
import tempfile
from email.message import EmailMessage
from pathlib import Path

import dkim
import pytest

from tests.harness.noop_milter import FloorMilterProcess, floor_key
from privacy_filters.dkim.keys import dns_record, load_key

pytestmark = pytest.mark.postfix


def _message(body: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Alice <alice@shop.example>", "bob@far.example", "floor"
    m.set_content(body)
    return m.as_bytes()


def _send(port: int, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.sendmail("alice@shop.example", ["bob@far.example"], raw)


@pytest.mark.parametrize("signing", [False, True], ids=["dlp", "dlp+dkim"])
def test_floor_milter_delivers_and_signs(postfix_factory, sink, signing):
    work = Path(tempfile.mkdtemp(prefix="pm-floor-"))
    os.chmod(work, 0o755)  # Postfix (user postfix) must reach the socket
    try:
        key = floor_key(work) if signing else None
        with FloorMilterProcess(work / "floor.sock", key) as floor:
            pf = postfix_factory(relay_port=sink.port)
            pf.set_milter(floor.spec)
            # a card number and a password: the floor scans them and still accepts
            _send(pf.smtpd_port, _message("Card 4111 1111 1111 1111 exp 09/27\npassword: Tr0ub4dor&3x!\n"))
            (got,) = sink.wait_for(1, timeout=20)
        assert b"4111 1111 1111 1111" in got.raw
        assert got.raw.startswith(b"DKIM-Signature:") is signing
        if signing:
            assert key is not None
            txt = dns_record(load_key(key, "rsa-sha256", "b2025")).encode()
            asked: list[bytes] = []

            def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
                asked.append(name)
                return txt

            assert dkim.DKIM(got.raw).verify(dnsfunc=dnsfunc), "the signature does not verify as delivered"
            assert asked == [b"b2025._domainkey.shop.example."]
    finally:
        shutil.rmtree(work, ignore_errors=True)
