"""The dkim filter in the pipeline: signs last over exactly the outgoing bytes, never signs
refused mail, verifies inbound mail, removes forged Authentication-Results."""

from __future__ import annotations

import dataclasses

import pytest
from dkim_support import DOMAIN, DictResolver, ed_key, records, receiver_verifies, rsa_key, settings

from privacy_filters.dkim.settings import SIGN_HEADERS
from privacy_filters.dkim.sign import sign
from privacy_filters.dkim_filter import DkimFilter
from privacy_milter import policy as policy_mod
from privacy_milter.model import (Action, Direction, DirectionDecision, EditKind, Message, Reply, Result,
                                  Session, apply_edits, header_block)
from privacy_milter.pipeline import Pipeline, Stage
from privacy_milter.plugin import FilterSettings

POLICY = policy_mod.parse(f'[network]\nhosted_domains = ["{DOMAIN}"]\n')
PLAIN = FilterSettings(timeout=5, on_error=Action.ACCEPT)

# Odd spacing and a folded Subject: the received bytes must be signed as they are.
RAW = (b"From:  Alice <alice@example.co.uk>\r\nTo:bob@example.org\r\n"
       b"Subject: a folded\r\n\tsubject line\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
       b"Message-ID: <1@example.co.uk>\r\n\r\nHello Bob,\r\nsee you.\r\n")


class Tagger:
    """Another filter that adds a header (as the DLP check tags a message)."""

    name = "tagger"

    def __init__(self, action: Action = Action.TAG) -> None:
        self.action = action

    async def check(self, message, ctx):
        reply = Reply("550", "5.7.1", "no") if self.action is Action.REJECT else None
        return Result(self.name, action=self.action, headers=(("X-Privacy-DLP", "payment_card medium"),),
                      reply=reply)


def _message(raw: bytes = RAW, direction: Direction = Direction.OUTBOUND) -> Message:
    m = Message.from_bytes(raw, Session("c1"), "alice@example.co.uk")
    m.direction = DirectionDecision(direction, "auth")
    return m


def _pipeline(dkim: DkimFilter, *others) -> Pipeline:
    # dkim listed first: it must still run after the others.
    return Pipeline([Stage(dkim, dkim.settings)] + [Stage(o, PLAIN) for o in others])


def _as_delivered(raw: bytes, verdict) -> bytes:
    """What Postfix writes: the edits applied to the received header, body unchanged."""
    head, _, body = raw.partition(b"\r\n\r\n")
    headers = Message.from_bytes(raw, Session("x")).headers
    return header_block(apply_edits(headers, verdict.edits), exact=True) + body


@pytest.mark.parametrize("canon", [("relaxed", "relaxed"), ("simple", "simple")])
async def test_signs_last_over_the_outgoing_bytes_with_another_filters_header(canon):
    # The tag is signed here, so a signature made before it was added would not verify.
    dkim = DkimFilter(settings(rsa_key(), ed_key(), canonicalization=canon,
                               sign_headers=SIGN_HEADERS + ("X-Privacy-DLP",)))
    verdict = await _pipeline(dkim, Tagger()).run(_message(), POLICY.site)
    assert [r.filter for r in verdict.results] == ["tagger", "dkim"]
    assert dict(verdict.results[-1].facts)["dkim"] == "signed:rsa-sha256,ed25519-sha256"
    out = _as_delivered(RAW, verdict)
    # Independent of the filter's own byte building: the tag goes last, signatures first.
    expected_tail = RAW.replace(b"\r\n\r\n", b"\r\nX-Privacy-DLP: payment_card medium\r\n\r\n", 1)
    assert out.endswith(expected_tail)
    assert out.startswith(b"DKIM-Signature: v=1; a=rsa-sha256;")   # the keys' order, top first
    assert out.count(b"DKIM-Signature:") == 2
    assert receiver_verifies(out, records(rsa_key(), ed_key())) == [True, True]
    assert b"x-privacy-dlp" in out.split(b"h=")[1].split(b";")[0].lower()
    tampered = out.replace(b"see you.", b"see you!")
    assert receiver_verifies(tampered, records(rsa_key(), ed_key())) == [False, False]


async def test_a_signed_header_changed_by_an_earlier_filter_is_signed_as_it_leaves():
    class Remover:
        name = "remover"

        async def check(self, message, ctx):
            from privacy_milter.model import HeaderEdit
            return Result(self.name, edits=(HeaderEdit.remove("Message-ID", 1),))

    dkim = DkimFilter(settings(rsa_key()))
    verdict = await _pipeline(dkim, Remover()).run(_message(), POLICY.site)
    out = _as_delivered(RAW, verdict)
    assert b"Message-ID" not in out
    assert receiver_verifies(out, records(rsa_key())) == [True]


@pytest.mark.parametrize("action", [Action.REJECT, Action.TEMPFAIL])
async def test_refused_mail_is_not_signed(action):
    dkim = DkimFilter(settings(rsa_key()))
    verdict = await _pipeline(dkim, Tagger(action)).run(_message(), POLICY.site)
    if action is Action.REJECT:   # a reject ends the run: dkim never ran
        assert [r.filter for r in verdict.results] == ["tagger"]
    else:
        assert dict(verdict.results[-1].facts)["dkim"] == "unsigned:not delivered (tempfail)"
    assert not any(e.name == "DKIM-Signature" for e in verdict.edits)


async def test_quarantined_mail_is_signed_for_its_release():
    dkim = DkimFilter(settings(rsa_key()))
    verdict = await _pipeline(dkim, Tagger(Action.QUARANTINE)).run(_message(), POLICY.site)
    assert dict(verdict.results[-1].facts)["dkim"] == "signed:rsa-sha256"


async def test_a_domain_whose_keys_are_all_inactive_says_so():
    """`active = false` (staged before the DNS record is published) is not "not a signing domain"."""
    staged = (dataclasses.replace(rsa_key(), active=False), dataclasses.replace(ed_key(), active=False))
    dkim = DkimFilter(settings(*staged))
    verdict = await _pipeline(dkim).run(_message(), POLICY.site)
    assert verdict.results[-1].facts == (("dkim", f"unsigned:{DOMAIN}'s keys are inactive"),)
    assert verdict.edits == ()


async def test_other_from_domains_are_not_signed_and_say_why():
    dkim = DkimFilter(settings(rsa_key()))
    raw = RAW.replace(b"alice@example.co.uk", b"alice@elsewhere.example")
    verdict = await _pipeline(dkim).run(_message(raw), POLICY.site)
    assert verdict.results[-1].facts == (("dkim", "unsigned:elsewhere.example is not a signing domain"),)
    assert verdict.edits == ()


def test_decide_signs_in_the_callers_thread_without_the_loop():
    dkim = DkimFilter(settings(ed_key()))
    outcome = _pipeline(dkim).run_now(_message(), POLICY.site)
    assert not hasattr(outcome, "index"), "a Partial: signing needed the loop"
    assert dict(outcome.results[-1].facts)["dkim"] == "signed:ed25519-sha256"


@pytest.mark.parametrize("on_error", [Action.ACCEPT, Action.TEMPFAIL])
async def test_a_signing_error_follows_on_error_and_is_logged(on_error, caplog, monkeypatch):
    from privacy_filters import dkim_filter
    from privacy_filters.dkim.sign import SigningError

    def broken(*a, **k):
        raise SigningError("signing as example.co.uk with selector r2025 (rsa-sha256) failed: boom")

    monkeypatch.setattr(dkim_filter, "sign_planned", broken)
    dkim = DkimFilter(settings(rsa_key(), on_error=on_error))
    verdict = await _pipeline(dkim).run(_message(), POLICY.site)
    result = verdict.results[-1]
    assert verdict.action is on_error and result.error and "boom" in result.error
    assert dict(result.facts)["dkim"] == ("unsigned:error" if on_error is Action.ACCEPT else "tempfail:error")
    assert verdict.edits == ()
    assert any("dkim:" in r.message and "on_error=" in r.message for r in caplog.records)


# --- inbound -------------------------------------------------------------------------------

def _signed_inbound(*keys, raw=RAW) -> bytes:
    out = raw
    for name, value in sign(raw, DOMAIN, keys, settings(*keys)):
        out = f"{name}: {value}\r\n".encode() + out
    return out


async def test_inbound_pass_and_our_header_at_the_top():
    resolver = DictResolver(records(rsa_key(), ed_key()))
    dkim = DkimFilter(settings())
    dkim.resolver = resolver
    raw = _signed_inbound(rsa_key(), ed_key())
    verdict = await _pipeline(dkim).run(_message(raw, Direction.INBOUND), POLICY.site)
    facts = dict(verdict.results[-1].facts)
    assert facts["dkim_result"] == f"{DOMAIN}:pass,{DOMAIN}:pass"
    (edit,) = verdict.edits
    assert (edit.kind, edit.name, edit.index) == (EditKind.INSERT, "Authentication-Results", 0)
    assert edit.value.startswith("mx.test;") and "dkim=pass" in edit.value and "header.s=r2025" in edit.value


async def test_inbound_forged_results_removed_highest_first_and_timeout_is_temperror():
    raw = _signed_inbound(rsa_key())
    raw = (b"Authentication-Results: mx.test; dkim=pass header.d=bank.example\r\n"
           b"Authentication-Results: other.example; dkim=fail\r\n"
           b"Authentication-Results: MX.TEST; spf=pass\r\n") + raw
    slow = DictResolver({}, slow={f"r2025._domainkey.{DOMAIN}"})
    dkim = DkimFilter(dataclasses.replace(settings(), dns_timeout=0.2))
    dkim.resolver = slow
    message = _message(raw, Direction.INBOUND)
    verdict = await _pipeline(dkim).run(message, POLICY.site)
    facts = dict(verdict.results[-1].facts)
    assert facts["dkim_result"] == f"{DOMAIN}:temperror"
    assert facts["dkim_forged_ar"] == "2"
    removes = [(e.name, e.index) for e in verdict.edits if e.kind is EditKind.REMOVE]
    assert removes == [("Authentication-Results", 3), ("Authentication-Results", 1)]
    left = [v for n, v in apply_edits(message.headers, verdict.edits) if n == "Authentication-Results"]
    assert len(left) == 2 and left[0].startswith(" mx.test;") and "dkim=temperror" in left[0]
    assert "other.example" in left[1]


async def test_inbound_unsigned_is_none_and_verify_off_adds_nothing():
    dkim = DkimFilter(settings())
    dkim.resolver = DictResolver({})
    verdict = await _pipeline(dkim).run(_message(RAW, Direction.INBOUND), POLICY.site)
    assert dict(verdict.results[-1].facts)["dkim_result"] == "none"
    off = DkimFilter(settings(verify=False))
    verdict = await _pipeline(off).run(_message(RAW, Direction.INBOUND), POLICY.site)
    assert verdict.edits == () and verdict.results[-1].facts == ()
