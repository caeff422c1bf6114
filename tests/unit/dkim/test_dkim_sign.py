"""Signing, checked by dkimpy on the receiving side with the published records."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from dkim_support import (DOMAIN, ed_key, receiver_verifies, records, rsa_key, settings,
                          signed_message)
from privacy_filters.dkim.settings import DkimSettings
from privacy_filters.dkim.sign import NotSignable, author_domain, include_headers, milter_value, plan, sign

MESSAGE = (b"From: Alice <alice@example.co.uk>\r\n"
           b"To: bob@example.org\r\n"
           b"Subject: quarterly figures\r\n"
           b"Date: Mon, 02 Jun 2025 10:00:00 +0100\r\n"
           b"Message-ID: <1@example.co.uk>\r\n"
           b"X-Privacy-Scan: clean\r\n"
           b"\r\n"
           b"Hello Bob,\r\nthe figures are attached.\r\n")


@pytest.mark.parametrize("canon", [("relaxed", "relaxed"), ("simple", "simple"), ("relaxed", "simple")])
@pytest.mark.parametrize("which", ["rsa", "ed25519", "both"])
def test_signatures_verify_at_the_receiver(which, canon):
    keys = {"rsa": [rsa_key()], "ed25519": [ed_key()], "both": [rsa_key(), ed_key()]}[which]
    headers = sign(MESSAGE, DOMAIN, keys, settings(*keys, canonicalization=canon))
    assert [name for name, _ in headers] == ["DKIM-Signature"] * len(keys)
    for (_, value), key in zip(headers, keys):
        assert f"a={key.algorithm};" in value and f"s={key.selector};" in value
        assert f"c={canon[0]}/{canon[1]};" in value and f"d={DOMAIN};" in value
        assert not value.startswith(" ") and not value.endswith("\n")
    assert receiver_verifies(signed_message(MESSAGE, headers), records(*keys)) == [True] * len(keys)


def test_headers_other_filters_added_before_signing_are_covered_and_order_kept():
    raw = MESSAGE.replace(b"X-Privacy-Scan: clean\r\n", b"X-Privacy-Scan: clean\r\nX-Privacy-Tag: flagged\r\n")
    s = settings(rsa_key(), sign_headers=("From", "To", "Subject", "X-Privacy-Tag"))
    out = signed_message(raw, sign(raw, DOMAIN, [rsa_key()], s))
    assert receiver_verifies(out, records(rsa_key())) == [True]
    assert receiver_verifies(out.replace(b"X-Privacy-Tag: flagged", b"X-Privacy-Tag: clean"),
                             records(rsa_key())) == [False]


@pytest.mark.parametrize("raw_headers", [
    b"Subject:  two spaces before\r\n",
    b"Subject: a folded\r\n\tsubject with a tab\r\n",
    b"Subject: folded\r\n   with spaces  and  doubled  gaps \r\n",
    b"subject:no space at all\r\n",
])
def test_simple_canonicalization_verifies_raw_headers_as_received(raw_headers):
    raw = (b"From:   alice@example.co.uk\r\nTo: bob@example.org\r\n" + raw_headers +
           b"Date: Mon, 02 Jun 2025 10:00:00 +0100\r\n\r\nbody\r\n")
    s = settings(rsa_key(), canonicalization=("simple", "simple"))
    out = signed_message(raw, sign(raw, DOMAIN, [rsa_key()], s))
    assert receiver_verifies(out, records(rsa_key())) == [True]
    # The same headers rebuilt with normalised spacing no longer verify under simple:
    rebuilt = out.replace(b"Subject:  two", b"Subject: two").replace(b"\r\n\t", b"\r\n ") \
                 .replace(b"  and  ", b" and ").replace(b"subject:no", b"subject: no")
    assert receiver_verifies(rebuilt, records(rsa_key())) == [False]


def test_eight_bit_body_verifies():
    raw = (b"From: alice@example.co.uk\r\nTo: bob@example.org\r\nSubject: caf\xc3\xa9\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n\xc2\xa3100 for the caf\xc3\xa9 \xe2\x82\xac\r\n")
    for canon in (("relaxed", "relaxed"), ("simple", "simple")):
        s = settings(rsa_key(), ed_key(), canonicalization=canon)
        out = signed_message(raw, sign(raw, DOMAIN, [rsa_key(), ed_key()], s))
        assert receiver_verifies(out, records(rsa_key(), ed_key())) == [True, True]


def test_unsigned_headers_added_later_break_nothing_but_an_oversigned_one_does():
    s = settings(ed_key())
    headers = sign(MESSAGE, DOMAIN, [ed_key()], s)
    value = headers[0][1]
    h = value.split("h=")[1].split(";")[0].replace("\r\n", "").replace(" ", "")
    # Present oversigned headers appear twice; absent ones (Cc, Reply-To) not at all.
    assert h.split(":").count("subject") == 2 and h.split(":").count("from") == 2
    assert "cc" not in h.split(":") and "reply-to" not in h.split(":")
    out = signed_message(MESSAGE, headers)
    table = records(ed_key())
    relay_added = out.replace(b"\r\n\r\n", b"\r\nReceived: from relay\r\nX-Spam-Score: 1.0\r\n"
                              b"List-Id: <l.example.org>\r\nCc: carol@example.org\r\n\r\n", 1)
    assert receiver_verifies(relay_added, table) == [True]
    second_subject = out.replace(b"\r\n\r\n", b"\r\nSubject: changed\r\n\r\n", 1)
    assert receiver_verifies(second_subject, table) == [False]
    assert receiver_verifies(out.replace(b"attached.", b"attached!"), table) == [False]


@pytest.mark.parametrize("from_header, domain, reason", [
    (b"From: Alice <alice@Example.CO.UK>\r\n", "example.co.uk", ""),
    (b'From: "Smith, Alice" <alice@example.co.uk> (work)\r\n', "example.co.uk", ""),
    (b"From: alice@example.co.uk, carol@example.co.uk\r\n", None, "2 addresses"),
    (b"From: alice@example.co.uk\r\nFrom: eve@example.co.uk\r\n", None, "2 From headers"),
    (b"To: bob@example.org\r\n", None, "no From header"),
    (b"From: undisclosed-recipients:;\r\n", None, "0 addresses"),
    (b"From: Eve <eve@example.co.uk.evil.test>\r\n", "example.co.uk.evil.test", ""),
])
def test_author_domain_as_dmarc_aligns_it(from_header, domain, reason):
    got = author_domain(from_header + b"Subject: x\r\n\r\nbody\r\n")
    assert got.domain == domain
    assert reason in got.reason


def test_plan_signs_only_signing_domains_and_the_default_for_hosted_ones():
    from types import MappingProxyType

    from privacy_filters.dkim.settings import DkimSettings
    s = DkimSettings(keys=MappingProxyType({"example.co.uk": (rsa_key(),), "default": (ed_key(),)}))
    hosted = {"example.co.uk", "shop.example.net"}.__contains__
    assert plan(MESSAGE, s, hosted).keys == (rsa_key(),)
    other = MESSAGE.replace(b"alice@example.co.uk>", b"alice@shop.example.net>")
    assert plan(other, s, hosted).keys == (ed_key(),)
    sub = MESSAGE.replace(b"alice@example.co.uk>", b"alice@mail.example.co.uk>")
    p = plan(sub, s, hosted)
    assert p.keys == () and "not a signing domain" in p.reason   # exact match only
    two = MESSAGE.replace(b"From: Alice <alice@example.co.uk>", b"From: a@example.co.uk, b@example.co.uk")
    assert plan(two, s, hosted).keys == () and "2 addresses" in plan(two, s, hosted).reason


def test_sign_refuses_a_from_domain_that_is_not_the_signing_domain():
    with pytest.raises(NotSignable, match="not example.org"):
        sign(MESSAGE, "example.org", [rsa_key()], settings(rsa_key()))


def test_inactive_keys_do_not_sign():
    from dataclasses import replace
    staged = replace(ed_key(), active=False)
    s = settings(rsa_key(), staged)
    assert s.keys_for(DOMAIN, lambda d: True) == (rsa_key(),)


def test_milter_value_uses_lf_folds():
    value = sign(MESSAGE, DOMAIN, [rsa_key()], settings(rsa_key()))[0][1]
    assert "\r\n" in value and "\r" not in milter_value(value) and "\n" in milter_value(value)


def _h_reference(raw_headers, s: DkimSettings) -> list[bytes]:
    """include_headers as first written (lower-casing every name per message): the cached
    name lists must give the same h= for every message."""
    counts: dict[bytes, int] = {}
    for name, _ in raw_headers:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    oversign = {h.lower().encode("ascii") for h in s.oversign_headers}
    out: list[bytes] = []
    seen: set[bytes] = set()
    for header in s.sign_headers:
        name = header.lower().encode("ascii")
        if name in seen:
            continue
        seen.add(name)
        n = counts.get(name, 0)
        out.extend([name] * (n + (1 if n and name in oversign else 0)))
    return out


_NAMES = st.sampled_from(["From", "from", "To", "Subject", "SUBJECT", "Date", "Cc", "Reply-To",
                          "Message-ID", "X-Other", "Content-Type"])


@hsettings(max_examples=300, deadline=None)
@given(st.lists(_NAMES, max_size=12), st.lists(_NAMES, min_size=1, max_size=8), st.lists(_NAMES, max_size=4))
def test_h_tag_is_what_the_first_formula_gave(present, sign_headers, oversign_headers):
    s = DkimSettings(sign_headers=tuple(sign_headers), oversign_headers=tuple(oversign_headers))
    raw_headers = [(n.encode(), b" v\r\n") for n in present]
    assert include_headers(raw_headers, s) == _h_reference(raw_headers, s)
