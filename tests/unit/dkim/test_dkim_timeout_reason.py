"""A key lookup that times out says `time-out` in the Authentication-Results reason,
whichever time-out fires first: ours (asyncio.wait_for, `dns_timeout`) or the resolver's
own (DnsTxt's lifetime). The DNS server here is the harness stub, told never to answer the
key's name, reached by the real resolver over loopback UDP (issue 23, item 9)."""

from __future__ import annotations

import dataclasses
import time

import pytest
from dkim_support import DOMAIN, rsa_key, settings, signed_message

from privacy_filters.dkim.sign import sign
from privacy_filters.dkim.verify import authentication_results, verify
from privacy_filters.dkim_filter import DkimFilter
from privacy_milter import policy as policy_mod
from privacy_milter.model import Direction, DirectionDecision, Message, Session
from privacy_milter.pipeline import Pipeline, Stage
from privacy_milter.services import DnsTxt
from tests.harness.dnsstub import DnsStub

RAW = (b"From: Alice <alice@example.co.uk>\r\nTo: bob@example.org\r\nSubject: hello\r\n"
       b"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <1@example.co.uk>\r\n\r\nHello Bob.\r\n")


@pytest.fixture
def silent_dns():
    """A DNS server that answers everything but the key's name, which it never answers."""
    with DnsStub() as stub:
        stub.drop(f"{rsa_key().selector}._domainkey.{DOMAIN}")
        yield stub


def _signed() -> bytes:
    key = rsa_key()
    return signed_message(RAW, sign(RAW, DOMAIN, [key], settings(key)))


@pytest.mark.parametrize("resolver_timeout, our_timeout", [
    (0.3, 5.0),   # the resolver's lifetime runs out first: dnspython raises Timeout
    (5.0, 0.3),   # ours runs out first: asyncio.wait_for raises a bare TimeoutError
])
async def test_the_reason_says_time_out_whichever_fires_first(silent_dns, resolver_timeout, our_timeout):
    resolver = DnsTxt("127.0.0.1", silent_dns.port, resolver_timeout)
    started = time.monotonic()
    [r] = await verify(_signed(), resolver, our_timeout)
    assert time.monotonic() - started < 4          # the shorter time-out ended it
    assert (r.result, r.reason) == ("temperror", "key lookup failed: time-out")
    header = authentication_results("mx1.shop.example", [r])
    assert 'dkim=temperror reason="key lookup failed: time-out"' in header, header


async def test_the_filters_header_says_time_out(silent_dns):
    s = dataclasses.replace(settings(), dns_timeout=0.3, nameserver=("127.0.0.1", silent_dns.port))
    dkim = DkimFilter(s)
    message = Message.from_bytes(_signed(), Session("c1"), "alice@example.co.uk")
    message.direction = DirectionDecision(Direction.INBOUND, "external-client")
    verdict = await Pipeline([Stage(dkim, s)]).run(message, policy_mod.default().site)
    (edit,) = verdict.edits
    assert edit.name == "Authentication-Results"
    assert 'dkim=temperror reason="key lookup failed: time-out"' in edit.value, edit.value
