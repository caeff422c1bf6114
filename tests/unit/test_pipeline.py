import asyncio

import pytest

from privacy_milter import policy
from privacy_milter.model import (Action, Confidence, EditKind, Finding, HeaderEdit, Message, Reply, Result,
                                  Session, apply_edits)
from privacy_milter.pipeline import Pipeline, Stage, combine
from privacy_milter.policy import FilterSettings


class Fixed:
    def __init__(self, name, result=None, delay=0.0, error=None):
        self.name, self.result, self.delay, self.error, self.calls = name, result, delay, error, 0

    async def check(self, message, ctx):
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return self.result or Result(self.name)


def stage(f, timeout=1.0, on_error=Action.TEMPFAIL):
    return Stage(f, FilterSettings(timeout=timeout, on_error=on_error))


@pytest.fixture
def message():
    m = Message(Session("c1"), mail_from="a@b.example")
    yield m
    m.close()


def test_action_order_is_accept_tag_quarantine_tempfail_reject():
    assert Action.ACCEPT < Action.TAG < Action.QUARANTINE < Action.TEMPFAIL < Action.REJECT


def test_strictest_action_wins_with_its_reply():
    reply = Reply("550", "5.7.1", "no")
    v = combine([Result("a", Action.TAG, headers=(("X-A", "1"),)),
                 Result("b", Action.REJECT, reply=reply),
                 Result("c", Action.QUARANTINE)])
    assert v.action is Action.REJECT and v.reply == reply
    assert v.headers == (("X-A", "1"),)


def test_default_replies_and_empty():
    assert combine([]).action is Action.ACCEPT
    v = combine([Result("a", Action.TEMPFAIL)])
    assert v.reply is not None and v.reply.code.startswith("4")
    v = combine([Result("a", Action.REJECT)])
    assert v.reply is not None and v.reply.xcode.startswith("5.7")


def test_findings_and_categories_collect_across_filters():
    v = combine([Result("a", findings=(Finding("iban", Confidence.HIGH, 2),)),
                 Result("b", findings=(Finding("password", Confidence.LOW),))])
    assert v.categories == ("iban", "password")


async def test_timeout_applies_on_error(message):
    slow = Fixed("slow", delay=5)
    v = await Pipeline([stage(slow, timeout=0.05, on_error=Action.ACCEPT)]).run(message, policy.default().site)
    assert v.action is Action.ACCEPT
    assert v.results[0].error and "timed out" in v.results[0].error


async def test_exception_applies_on_error_and_does_not_leak_text(message):
    broken = Fixed("broken", error=ValueError("card 4111111111111111"))
    v = await Pipeline([stage(broken)]).run(message, policy.default().site)
    assert v.action is Action.TEMPFAIL
    assert v.results[0].error == "failed: ValueError"


async def test_reject_stops_the_run(message):
    first = Fixed("first", Result("first", Action.REJECT))
    second = Fixed("second")
    v = await Pipeline([stage(first), stage(second)]).run(message, policy.default().site)
    assert v.action is Action.REJECT and second.calls == 0


async def test_later_filters_see_earlier_results(message):
    seen = []

    class Reader:
        name = "reader"

        async def check(self, message, ctx):
            seen.extend(r.filter for r in ctx.results)
            return Result(self.name)

    await Pipeline([stage(Fixed("first")), stage(Reader())]).run(message, policy.default().site)
    assert seen == ["first"]


# --- header edits with a position -------------------------------------------------------



class Editor:
    def __init__(self, name, *edits, headers=()):
        self.name, self.edits, self.headers = name, edits, headers

    async def check(self, message, ctx):
        return Result(self.name, edits=self.edits, headers=self.headers)


class Signer:
    name = "signer"
    sees_all_edits = True

    async def check(self, message, ctx):
        self.seen = ctx.outgoing_headers(message)
        return Result(self.name, edits=(HeaderEdit.insert("DKIM-Signature", "v=1; d=shop.example"),))


async def test_edits_apply_in_order_and_a_signer_sees_them_all_wherever_it_is_listed():
    m = Message(Session("c"))
    m.headers = [("Authentication-Results", "mx.example; dkim=pass"), ("From", "a@shop.example"),
                 ("Authentication-Results", "other.example; none"), ("Subject", "hi")]
    signer = Signer()
    pipeline = Pipeline([
        stage(signer),  # listed first, runs last
        stage(Editor("dlp", headers=(("X-Privacy-DLP", "password=1  (high)"),))),
        stage(Editor("ar", HeaderEdit.remove("Authentication-Results", 1),
                     HeaderEdit.insert("Authentication-Results", "mx.example; dkim=none"))),
    ])
    verdict = await pipeline.run(m, policy.default().site)
    assert [r.filter for r in verdict.results] == ["dlp", "ar", "signer"]
    assert signer.seen == [("Authentication-Results", " mx.example; dkim=none"), ("From", "a@shop.example"),
                           ("Authentication-Results", "other.example; none"), ("Subject", "hi"),
                           ("X-Privacy-DLP", " password=1 (high)")]
    assert [e.kind for e in verdict.edits] == [EditKind.ADD, EditKind.REMOVE, EditKind.INSERT, EditKind.INSERT]
    final = apply_edits(m.headers, verdict.edits)
    assert final[0] == ("DKIM-Signature", " v=1; d=shop.example")  # the signature ends up first
    assert final[1] == ("Authentication-Results", " mx.example; dkim=none")


def test_a_timed_result_is_the_result_with_its_seconds_and_nothing_else_changed():
    """Result.timed passes every field on by position: a field added to Result without it
    there (or out of order) fails here. Each field gets a value unlike its default."""
    import dataclasses

    from privacy_milter.model import Confidence, Finding, HeaderEdit, Reply, Result

    samples = {"filter": "dlp", "action": Action.QUARANTINE,
               "findings": (Finding("iban", Confidence.HIGH, 3, "attachment", ("iban.checksum",)),),
               "headers": (("X-Privacy-DLP", "iban=3 (high)"),), "edits": (HeaderEdit.remove("X-Spam", 1),),
               "reply": Reply("550", "5.7.1", "no"), "facts": (("dlp", "scanned"),), "error": "failed: OSError",
               "seconds": 0.25}
    assert [f.name for f in dataclasses.fields(Result)] == list(samples)
    result = Result(**samples)  # type: ignore[arg-type]
    assert result.timed(1.5) == dataclasses.replace(result, seconds=1.5)
    assert result.timed(1.5).seconds == 1.5 and result.seconds == 0.25
