"""Issue 23, item 1: a flagged outbound message never leaves in clear text when its TLS
decision fails. Every failure path of the tls filter (the classification running past its
budget, the filter's timeout, an exception in check or decide, a failed prepare hook)
ends in [filters.tls] flagged_unknown, with the fact tls_decision=failed, never in the
filter's on_error = "accept".

The pipeline is the real one with the real tls filter; only the classifier (the TLS
policy service) is a stand-in, because what matters is how its failures are answered.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from privacy_filters.tls import TlsFilter
from privacy_milter import policy as policy_mod
from privacy_milter.metrics import Metrics
from privacy_milter.model import Action, Confidence, Finding, Result, Verdict
from privacy_milter.pipeline import Pipeline, Services, Stage
from privacy_milter.tlspolicy.model import TlsClass

from tests.unit.filter_helpers import message

ENCRYPT = ("X-Privacy-Encrypt", "required")


class HangingClassifier:
    """The TLS policy service with its resolver down: every lookup waits (a stock Debian
    host has nothing on 127.0.0.1:53, and a query there hangs until its time-out)."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def classify(self, domain: str) -> TlsClass:
        self.asked.append(domain)
        await asyncio.sleep(3600)
        return TlsClass.TLS


class FixedClassifier:
    def __init__(self, value: TlsClass) -> None:
        self.value = value

    async def classify(self, domain: str) -> TlsClass:
        return self.value


class Flagger:
    """The dlp filter's answer for a message with an IBAN it tags (no scan needed here)."""

    name = "dlp"

    def __init__(self, action: Action = Action.TAG) -> None:
        self.action = action

    def decide(self, message, ctx) -> Result:
        return Result("dlp", self.action, findings=(Finding("iban", Confidence.HIGH, 1),))

    async def check(self, message, ctx) -> Result:
        return self.decide(message, ctx)


def policy(extra: str = "") -> policy_mod.Policy:
    return policy_mod.parse(f"""
[network]
hosted_domains = ["shop.example"]
[filters.tls]
timeout = 0.5
on_error = "accept"
{extra}
""")


def pipeline(p: policy_mod.Policy, tls: object, flag: Action = Action.TAG) -> Pipeline:
    return Pipeline([Stage(Flagger(flag), p.settings("dlp")), Stage(tls, p.settings("tls"))])  # type: ignore[arg-type]


def tls_filter(p: policy_mod.Policy) -> TlsFilter:
    return TlsFilter(p.settings("tls"))


def tls_result(v: Verdict) -> Result:
    return next(r for r in v.results if r.filter == "tls")


async def run(p: policy_mod.Policy, tls: object, classifier: object, msg=None, flag: Action = Action.TAG) -> Verdict:
    msg = msg or message()
    try:
        return await pipeline(p, tls, flag).run(msg, p.site, Services(tls_classifier=classifier))  # type: ignore[arg-type]
    finally:
        msg.close()


def assert_encrypt_only(v: Verdict) -> None:
    r = tls_result(v)
    assert ENCRYPT in v.headers, v
    assert ("tls_decision", "failed") in r.facts and ("flagged_action", "encrypt") in r.facts, r.facts
    assert v.action in (Action.TAG, Action.QUARANTINE)


# --- the classification has its own budget inside the filter's timeout ---------------------------

async def test_a_hanging_resolver_costs_the_budget_then_encrypt_only(caplog):
    p = policy("decision_timeout = 0.1")
    caplog.set_level(logging.WARNING)
    started = asyncio.get_running_loop().time()
    v = await run(p, tls_filter(p), HangingClassifier())
    assert asyncio.get_running_loop().time() - started < 0.45  # answered inside the filter's 0.5 s
    assert_encrypt_only(v)
    assert tls_result(v).error is None  # the filter answered itself: not an on_error failure
    assert any("TLS decision failed" in m and "flagged_unknown" in m and "encrypt" in m for m in caplog.messages)


async def test_the_budget_defaults_to_part_of_the_filter_timeout():
    p = policy()  # no decision_timeout: a share of timeout = 0.5
    v = await run(p, tls_filter(p), HangingClassifier())
    assert_encrypt_only(v)
    assert tls_result(v).error is None


@pytest.mark.parametrize("choice, action", [("reject", Action.REJECT), ("tempfail", Action.TEMPFAIL),
                                            ("quarantine", Action.QUARANTINE)])
async def test_a_failed_decision_applies_flagged_unknown_whatever_it_is(choice, action):
    p = policy(f'flagged_unknown = "{choice}"\ndecision_timeout = 0.1')
    v = await run(p, tls_filter(p), HangingClassifier())
    r = tls_result(v)
    assert v.action is action and ENCRYPT not in v.headers
    assert ("tls_decision", "failed") in r.facts and ("flagged_action", choice) in r.facts
    if action is Action.REJECT:
        assert v.reply is not None and v.reply.xcode == "5.7.1" and "far.example" in v.reply.text


# --- every failure path of the pipeline goes through the filter's fail-closed answer --------------

class SlowTls(TlsFilter):
    """A check that outlives the filter's timeout however it is budgeted (a stuck await)."""

    async def check(self, message, ctx):
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


class BrokenTls(TlsFilter):
    async def check(self, message, ctx):
        raise RuntimeError("classifier exploded")


class BrokenDecideTls(TlsFilter):
    def decide(self, message, ctx):
        raise RuntimeError("decide exploded")


class BrokenPrepareTls(TlsFilter):
    def prepare(self, message, deadline):
        raise RuntimeError("prepare exploded")


@pytest.mark.parametrize("cls, problem", [(SlowTls, "timed out"), (BrokenTls, "failed: RuntimeError")],
                         ids=["timeout", "exception"])
async def test_check_failures_fail_closed_not_on_error_accept(cls, problem):
    p = policy()
    v = await run(p, cls(p.settings("tls")), FixedClassifier(TlsClass.TLS))
    assert_encrypt_only(v)
    assert tls_result(v).error.startswith(problem)  # still recorded as failed=tls


async def test_decide_exception_in_run_now_fails_closed():
    p = policy()
    msg = message()
    try:
        out = pipeline(p, BrokenDecideTls(p.settings("tls"))).run_now(msg, p.site, Services())
    finally:
        msg.close()
    assert isinstance(out, Verdict)
    assert_encrypt_only(out)


@pytest.mark.parametrize("where", ["run_now", "run"])
async def test_prepare_failure_fails_closed(where):
    p = policy()
    msg = message()
    pipe = pipeline(p, BrokenPrepareTls(p.settings("tls")))
    try:
        prepared = pipe.prepare(msg)
        assert prepared["tls"].error
        if where == "run_now":
            v = pipe.run_now(msg, p.site, Services(), prepared)
        else:
            v = await pipe.run(msg, p.site, Services(), prepared)
    finally:
        msg.close()
    assert isinstance(v, Verdict)
    assert_encrypt_only(v)


# --- what a failure does NOT change ----------------------------------------------------------------

async def test_unflagged_mail_still_gets_on_error_when_the_filter_fails():
    p = policy()
    v = await run(p, SlowTls(p.settings("tls")), None, flag=Action.ACCEPT)
    r = tls_result(v)
    assert v.action is Action.ACCEPT and ENCRYPT not in v.headers and r.error
    assert ("tls_decision", "failed") not in r.facts


async def test_a_failed_decision_for_mixed_recipients_is_flagged_mixed():
    p = policy()
    msg = message(rcpts=(("bob@far.example", "smtp"), ("carol@shop.example", "virtual")))
    v = await run(p, SlowTls(p.settings("tls")), None, msg)
    assert v.action is Action.REJECT and "separate messages" in v.reply.text


async def test_a_hook_that_raises_tempfails_rather_than_accepting():
    class Worse(SlowTls):
        def fail_closed(self, message, ctx, problem):
            raise RuntimeError("even this")

    p = policy()
    v = await run(p, Worse(p.settings("tls")), None)
    assert v.action is Action.TEMPFAIL and ENCRYPT not in v.headers


# --- counted ---------------------------------------------------------------------------------------

async def test_failed_decisions_are_counted_in_metrics():
    p = policy("decision_timeout = 0.1")
    msg = message()
    try:
        v = await pipeline(p, tls_filter(p)).run(msg, p.site, Services(tls_classifier=HangingClassifier()))
        m = Metrics(["dlp", "tls"])
        m.observe(msg, v, 0.1)
    finally:
        msg.close()
    assert m.registry.get_sample_value("privacy_milter_flagged_tls_decision_failed_total") == 1.0
    assert m.registry.get_sample_value("privacy_milter_flagged_outbound_total", {"action": "encrypt"}) == 1.0


async def test_a_resolver_that_fails_fast_is_a_failed_decision_too():
    """Resolver refusing at once (no time-out): the classifier raises DecisionFailed."""
    from privacy_milter.tlspolicy.model import DecisionFailed

    class Failing:
        async def classify(self, domain):
            raise DecisionFailed(f"{domain}: policy lookup failed (SERVFAIL) and nothing else is known")

    p = policy()
    v = await run(p, tls_filter(p), Failing())
    assert_encrypt_only(v)
    assert ("flagged_tls", "unknown:1") in tls_result(v).facts


# --- the breaker: a dead resolver stops costing every flagged message the whole budget ----------

class CountingHang(HangingClassifier):
    pass


async def test_after_failures_in_a_row_the_breaker_fails_closed_at_once_then_probes(caplog):
    clock = [1000.0]
    p = policy("decision_timeout = 0.05\nbreaker_failures = 2\nbreaker_cooldown = 30")
    f = tls_filter(p)
    f.breaker.clock = lambda: clock[0]
    classifier = CountingHang()
    for _ in range(2):  # two failed decisions open it
        assert_encrypt_only(await run(p, f, classifier))
    assert len(classifier.asked) == 2
    started = asyncio.get_running_loop().time()
    v = await run(p, f, classifier)  # open: no classification, no wait
    assert asyncio.get_running_loop().time() - started < 0.04
    assert_encrypt_only(v) and len(classifier.asked) == 2
    assert any("breaker open" in m and "flagged_unknown = encrypt" in m for m in caplog.messages)
    clock[0] += 31  # cool-down over: one message probes; the resolver answers again
    healthy = FixedClassifier(TlsClass.TLS)
    v = await run(p, f, healthy)
    assert ENCRYPT in v.headers and ("tls_decision", "failed") not in tls_result(v).facts
    assert f.breaker.state == "closed"


async def test_the_breaker_can_be_turned_off():
    p = policy("decision_timeout = 0.05\nbreaker_failures = 0")
    f = tls_filter(p)
    classifier = CountingHang()
    for _ in range(4):
        assert_encrypt_only(await run(p, f, classifier))
    assert len(classifier.asked) == 4


def test_decision_timeout_must_leave_the_filter_time_to_answer():
    with pytest.raises(policy_mod.PolicyError) as err:
        policy_mod.parse("[filters.tls]\ntimeout = 5\ndecision_timeout = 5\n")
    assert "filters.tls.decision_timeout: must be less than timeout (5)" in str(err.value)
    assert policy_mod.parse("[filters.tls]\ntimeout = 2\n").settings("tls").decision_budget() == pytest.approx(1.6)


# --- a reload while a flagged message waits for its decision --------------------------------------

async def test_a_reload_in_between_does_not_let_the_waiting_message_out_in_clear(tmp_path):
    """The message keeps the snapshot it started with (policy and pipeline in one): its
    failed decision still fails closed, and the next message gets the reloaded policy."""
    import dataclasses

    from privacy_milter.model import Message, Recipient, Session
    from privacy_milter.runtime import Runtime

    base = f"""
[store]
path = "{tmp_path}/meta.db"
key_file = "{tmp_path}/address.key"
flush_interval = 0.05
[network]
hosted_domains = ["shop.example"]
[tls_policy]
enabled = false
[filters.tls]
timeout = 1
decision_timeout = 0.3
"""
    path = tmp_path / "policy.toml"
    path.write_text(base)
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    rt.services = dataclasses.replace(rt.services, tls_classifier=HangingClassifier())

    def flagged_message() -> Message:
        m = Message(Session("c1", client_addr="192.0.2.1", auth_authen="alice"), mail_from="alice@shop.example",
                    recipients=[Recipient("bob@far.example", "smtp")], queue_id="4FLAG")
        m.headers = [("From", "alice@shop.example"), ("To", "bob@far.example"), ("Subject", "invoice")]
        m.write_body(b"Please pay to IBAN GB53 MIDL 4005 1571 2345 67, thanks\r\n")
        return m

    try:
        waiting = asyncio.create_task(rt.process(flagged_message()))
        await asyncio.sleep(0.1)  # the classification is under way
        path.write_text(base + 'flagged_unknown = "quarantine"\n')
        assert await asyncio.to_thread(rt.reload, "test")
        v = await waiting
        assert_encrypt_only(v)  # the policy it started with: encrypt
        after = await rt.process(flagged_message())
        assert after.action is Action.QUARANTINE and ENCRYPT not in after.headers
        assert ("tls_decision", "failed") in tls_result(after).facts
    finally:
        await rt.stop()
