"""Inbound verification through the injected async resolver, and Authentication-Results."""

from __future__ import annotations

import time

import authres

from dkim_support import (DOMAIN, DictResolver, ed_key, make_key, records, rsa_key, settings,
                          signed_message)
from privacy_filters.dkim.sign import sign
from privacy_filters.dkim.verify import DkimResult, authentication_results, forged_ar, verify

RAW = (b"From: Alice <alice@example.co.uk>\r\nTo: bob@example.org\r\nSubject: hello\r\n"
       b"Date: Mon, 02 Jun 2025 10:00:00 +0100\r\n\r\nHello Bob.\r\n")


def _signed(*keys, raw=RAW, domain=DOMAIN):
    return signed_message(raw, sign(raw, domain, list(keys), settings(*keys, domain=domain)))


async def test_pass_with_domain_selector_algorithm_and_key_size():
    msg = _signed(rsa_key(), ed_key())
    results = await verify(msg, DictResolver(records(rsa_key(), ed_key())), timeout=2)
    # top first: the ed25519 signature was inserted last, so it is on top
    assert results == [
        DkimResult("pass", DOMAIN, ed_key().selector, "ed25519-sha256", 256),
        DkimResult("pass", DOMAIN, rsa_key().selector, "rsa-sha256", 2048),
    ]


async def test_fail_when_the_body_was_altered():
    msg = _signed(rsa_key()).replace(b"Hello Bob.", b"Hello Eve.")
    [r] = await verify(msg, DictResolver(records(rsa_key())), timeout=2)
    assert (r.result, r.domain, r.selector) == ("fail", DOMAIN, rsa_key().selector)
    assert "body hash" in r.reason


async def test_fail_when_a_signed_header_was_altered():
    msg = _signed(ed_key()).replace(b"Subject: hello", b"Subject: HELLO")
    [r] = await verify(msg, DictResolver(records(ed_key())), timeout=2)
    assert r.result == "fail" and r.key_bits == 256


async def test_none_for_an_unsigned_message_without_asking_dns():
    resolver = DictResolver({})
    assert await verify(RAW, resolver, timeout=2) == [DkimResult("none")]
    assert resolver.asked == []


async def test_timeout_is_temperror_never_none():
    msg = _signed(rsa_key())
    name = f"{rsa_key().selector}._domainkey.{DOMAIN}"
    start = time.monotonic()
    [r] = await verify(msg, DictResolver(records(rsa_key()), slow={name}), timeout=0.3)
    assert time.monotonic() - start < 5   # bounded by the timeout, not the stub's 30 s
    assert (r.result, r.domain) == ("temperror", DOMAIN)


async def test_servfail_is_temperror():
    msg = _signed(rsa_key())
    name = f"{rsa_key().selector}._domainkey.{DOMAIN}"
    [r] = await verify(msg, DictResolver(records(rsa_key()), servfail={name}), timeout=2)
    assert r.result == "temperror" and "SERVFAIL" in r.reason


async def test_bad_or_missing_key_records_are_permerror():
    msg = _signed(rsa_key())
    name = f"{rsa_key().selector}._domainkey.{DOMAIN}"
    for table in ({name: b"v=DKIM1; k=rsa; p=bm90IGEga2V5IGF0IGFsbA=="},   # garbage key
                  {name: b"v=DKIM1; k=rsa; p="},                             # revoked
                  {name: b"v=DKIM9; p=MIIB"},                                # bad version
                  {name: records(ed_key())[f"{ed_key().selector}._domainkey.{DOMAIN}"]},  # wrong type
                  {}):                                                       # NXDOMAIN
        [r] = await verify(msg, DictResolver(table), timeout=2)
        assert r.result == "permerror", (table, r)


async def test_malformed_signature_is_neutral():
    msg = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.co.uk\r\n" + RAW
    [r] = await verify(msg, DictResolver({}), timeout=2)
    assert r.result == "neutral" and "lacks" in r.reason


async def test_every_signature_is_verified_with_mixed_results():
    other = make_key("o1", "rsa-sha256", domain="other.example")
    slow_key = make_key("s1", "ed25519-sha256", domain="slow.example")
    raw = RAW
    msg = _signed(rsa_key(), raw=raw)                                 # good
    msg = signed_message(msg, sign(msg.replace(b"From: Alice <alice@example.co.uk>",
                                               b"From: Alice <alice@other.example>"),
                                   "other.example", [other], settings(other, domain="other.example")))
    msg = signed_message(msg, sign(msg.replace(b"From: Alice <alice@example.co.uk>",
                                               b"From: a@slow.example"),
                                   "slow.example", [slow_key], settings(slow_key, domain="slow.example")))
    table = {**records(rsa_key()), **records(other, domain="other.example"),
             **records(slow_key, domain="slow.example")}
    resolver = DictResolver(table, slow={"s1._domainkey.slow.example"})
    results = await verify(msg, resolver, timeout=0.3)
    # top first: slow.example (lookup times out), other.example (signed a different From), ours
    assert [(r.result, r.domain) for r in results] == [
        ("temperror", "slow.example"), ("fail", "other.example"), ("pass", DOMAIN)]
    assert sorted(resolver.asked) == sorted(table)   # one lookup per key, all of them


def test_authentication_results_header_round_trips_through_authres():
    value = authentication_results("mx.test", [
        DkimResult("pass", DOMAIN, "r2025", "rsa-sha256", 2048),
        DkimResult("temperror", "slow.example", "s1", "ed25519-sha256", None, "key lookup failed: time-out"),
    ])
    assert value.startswith("mx.test; dkim=pass (2048-bit key) ")
    parsed = authres.AuthenticationResultsHeader.parse_value(value)
    assert parsed.authserv_id == "mx.test"
    got = [(r.result, r.header_d, r.header_s, r.header_a) for r in parsed.results]
    assert got == [("pass", DOMAIN, "r2025", "rsa-sha256"), ("temperror", "slow.example", "s1", "ed25519-sha256")]
    assert authentication_results("mx.test", [DkimResult("none")]) == "mx.test; dkim=none"


def test_forged_authentication_results_claiming_our_id():
    ours = "mx1.example.net"
    assert forged_ar(" mx1.example.net; dkim=pass header.d=bank.example", ours)
    assert forged_ar("MX1.Example.NET 1; spf=pass smtp.mailfrom=x@y", ours)
    assert forged_ar("(comment) mx1.example.net;\r\n\tdkim=pass", ours)
    assert forged_ar("mx1.example.net; this is not ((( valid", ours)   # unparsable, still ours
    assert not forged_ar("mx.gmail.com; dkim=pass header.d=bank.example", ours)
    assert not forged_ar("mx1.example.net.evil; dkim=pass", ours)
    assert not forged_ar("", ours)
