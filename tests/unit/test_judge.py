"""Runtime.judge: the deadline covers prepare and check, and the record says what Postfix was told."""

import threading
import time

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.loopthread import LoopThread
from privacy_milter.model import Action, Message, Recipient, Result, Session
from privacy_milter.pipeline import Pipeline, Stage
from privacy_milter.policy import FilterSettings
from privacy_milter.runtime import Runtime, Snapshot

POLICY = """
[milter]
deadline = 1
[store]
path = "{dir}/meta.db"
key_file = "{dir}/address.key"
flush_interval = 0.05
[network]
hosted_domains = ["hosted.example"]
[tls_policy]
enabled = false
"""


class Busy:
    """A filter whose prepare works until told to stop, or forever if it ignores the deadline."""

    name = "busy"

    def __init__(self, honour_deadline=True, seconds=30.0, fail=False):
        self.honour, self.seconds, self.fail = honour_deadline, seconds, fail
        self.prepares = self.checks = 0
        self.deadline_seen = None

    def prepare(self, message, deadline):
        self.prepares += 1
        self.deadline_seen = deadline
        if self.fail:
            raise ValueError("broken")
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            if self.honour and deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(0.005)

    async def check(self, message, ctx):
        self.checks += 1
        return Result(self.name, facts=(("busy", "done"),))


@pytest.fixture
def loop_runtime(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(POLICY.format(dir=tmp_path))
    loop = LoopThread("test-loop")
    loop.start()
    runtime = loop.run(Runtime.start(policy_mod.load(path), watch=False), 10)
    runtime.attach(loop)
    yield runtime, loop
    loop.run(runtime.stop(), 10)
    loop.stop()


def _use(runtime, flt, timeout=30.0, on_error=Action.ACCEPT):
    runtime.snapshot = Snapshot(runtime.policy, Pipeline([Stage(flt, FilterSettings(timeout, on_error))]))


def _message():
    m = Message(Session("c1", client_addr="192.0.2.1", auth_authen="alice"), mail_from="alice@shop.example",
                recipients=[Recipient("bob@far.example")], queue_id="4JUDGE")
    m.headers = [("From", "alice@shop.example"), ("Subject", "hi")]
    m.write_body(b"hello\r\n")
    return m


def _records(runtime, loop):
    loop.run(runtime.store.flush(), 10)
    return loop.run(runtime.store.stats(), 10)


def test_prepare_past_the_message_deadline_is_tempfailed_and_recorded_so(loop_runtime):
    runtime, loop = loop_runtime
    flt = Busy(honour_deadline=False, seconds=1.5)  # ignores the 1 s deadline
    _use(runtime, flt)
    verdict = runtime.judge(_message())
    assert verdict.action is Action.TEMPFAIL and verdict.reply is not None and verdict.reply.code == "451"
    assert flt.checks == 0  # the loop never ran the check of a message already answered
    stats = _records(runtime, loop)
    assert stats["action"] == {"tempfail": 1}


def test_prepare_is_bounded_by_its_filter_timeout(loop_runtime):
    runtime, loop = loop_runtime
    flt = Busy(honour_deadline=True, seconds=30)
    _use(runtime, flt, timeout=0.3)
    started = time.monotonic()
    verdict = runtime.judge(_message())
    assert time.monotonic() - started < 0.9  # stopped at its own 0.3 s, not the message's 1 s
    assert flt.deadline_seen is not None and flt.deadline_seen - started <= 0.35
    assert verdict.action is Action.ACCEPT  # the check ran with what prepare left
    assert flt.checks == 1


def test_failed_prepare_goes_to_on_error_without_a_second_try(loop_runtime):
    runtime, loop = loop_runtime
    flt = Busy(fail=True)
    _use(runtime, flt, on_error=Action.TEMPFAIL)
    verdict = runtime.judge(_message())
    assert verdict.action is Action.TEMPFAIL
    assert flt.prepares == 1 and flt.checks == 0
    assert [r.error for r in verdict.results] == ["failed: ValueError"]
    assert _records(runtime, loop)["action"] == {"tempfail": 1}


def test_judge_records_every_answer_from_many_threads(loop_runtime):
    runtime, loop = loop_runtime
    _use(runtime, Busy(seconds=0))
    verdicts = []
    threads = [threading.Thread(target=lambda: verdicts.append(runtime.judge(_message()))) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(verdicts) == 20 and all(v.action is Action.ACCEPT for v in verdicts)
    assert _records(runtime, loop)["messages"] == 20


def test_real_dlp_scan_counts_against_the_deadline(loop_runtime):
    """The DLP filter's prepare is handed a deadline no later than the message's."""
    runtime, _ = loop_runtime
    seen = []
    dlp = runtime.pipeline.stages[0].filter
    original = dlp.prepare

    def spy(message, policy):
        seen.append(message.deadline)
        return original(message, policy)

    dlp.prepare = spy
    started = time.monotonic()
    runtime.judge(_message())
    assert seen and seen[0] is not None and seen[0] - started <= runtime.policy.milter.deadline + 0.01


class Quick:
    """Answers in decide (no loop needed) unless told to need the loop."""

    name = "quick"

    def __init__(self, needs_loop=False):
        self.needs_loop, self.decided, self.checked, self.check_thread = needs_loop, 0, 0, None

    def decide(self, message, ctx):
        self.decided += 1
        return None if self.needs_loop else Result(self.name, facts=(("quick", "now"),))

    async def check(self, message, ctx):
        self.checked += 1
        self.check_thread = threading.current_thread().name
        return Result(self.name, facts=(("quick", "loop"),))


def test_filters_that_decide_at_once_need_no_hop_and_the_rest_run_on_the_loop(loop_runtime):
    runtime, loop = loop_runtime
    first, second = Quick(), Quick(needs_loop=True)
    runtime.snapshot = Snapshot(runtime.policy, Pipeline([
        Stage(first, FilterSettings(5, Action.ACCEPT)), Stage(second, FilterSettings(5, Action.ACCEPT))]))
    verdict = runtime.judge(_message())
    assert [r.facts for r in verdict.results] == [(("quick", "now"),), (("quick", "loop"),)]
    assert (first.decided, first.checked, second.decided, second.checked) == (1, 0, 1, 1)
    assert second.check_thread == "test-loop"  # the one that needed the loop ran on it
    only_now = Quick()
    _use(runtime, only_now)
    assert runtime.judge(_message()).results[0].facts == (("quick", "now"),)
    assert only_now.checked == 0
    assert _records(runtime, loop)["messages"] == 2


def test_the_message_tag_follows_the_work_onto_the_loop(loop_runtime):
    from privacy_milter import logcontext

    runtime, _ = loop_runtime
    seen = {}

    class Tells(Quick):
        async def check(self, message, ctx):
            seen["loop"] = logcontext.current()
            return await super().check(message, ctx)

    _use(runtime, Tells(needs_loop=True))
    token = logcontext.set_tag("4JUDGE")  # as the adapter sets it at end of message
    try:
        runtime.judge(_message())
    finally:
        logcontext.reset_tag(token)
    assert seen["loop"] == "4JUDGE"
