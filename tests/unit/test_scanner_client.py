"""What the scanners share (filters/privacy_filters/scanner_client.py and the opt-in gate):
opt-ins, settings, facts, the circuit breaker and connect time-outs."""


from __future__ import annotations

import asyncio
import json
import re

import pytest

from privacy_filters import spam as spam_mod
from privacy_filters import virus as virus_mod
from privacy_filters.spam import SpamFilter
from privacy_filters.virus import ScannerError, VirusFilter, opted_in, parse_answer
from privacy_milter import policy as policy_mod
from privacy_milter.errors import PolicyError
from privacy_milter.model import Action, Direction
from privacy_milter.pipeline import Pipeline, Stage
from privacy_milter.plugin import FilterContext

from tests.unit.scanner_helpers import Clock, check_with, clamd, hung_then, make_policy, message


# --- opt-in -------------------------------------------------------------------------------------

@pytest.mark.parametrize("direction, sender, rcpts, expected", [
    (Direction.INBOUND, "a@far.example", ("b@opted.example",), "opted.example"),
    (Direction.INBOUND, "a@far.example", ("b@plain.example", "c@sub.opted.example"), "sub.opted.example"),
    (Direction.INBOUND, "a@far.example", ("b@plain.example",), None),
    (Direction.INBOUND, "a@opted.example", ("b@plain.example",), None),  # inbound: the sender does not count
    (Direction.OUTBOUND, "a@opted.example", ("b@far.example",), "opted.example"),
    (Direction.OUTBOUND, "a@plain.example", ("b@opted.example",), None),  # outbound: recipients do not count
    (Direction.OUTBOUND, "a@far.example", ("b@far.example",), None),
])
def test_opt_in_follows_direction(direction, sender, rcpts, expected):
    assert opted_in(message(direction, sender, rcpts), make_policy(), "virus") == expected


def test_opt_ins_are_separate():
    p = make_policy('[customers."plain.example"]\nvirus = true')
    m = message(rcpts=("b@plain.example",))
    assert opted_in(m, p, "virus") == "plain.example"
    assert opted_in(m, p, "spam") is None


async def test_not_opted_in_is_a_fact_and_nothing_else():
    ctx = FilterContext(make_policy('[filters.virus]\naddress = "inet:127.0.0.1:1"').site)
    m = message(rcpts=("b@plain.example",))
    v = await check_with(VirusFilter, m, ctx)
    s = await check_with(SpamFilter, m, ctx)
    assert (v.action, v.facts, v.headers) == (Action.ACCEPT, (("virus", "not-opted-in"),), ())
    assert (s.action, s.facts, s.headers) == (Action.ACCEPT, (("spam", "not-opted-in"),), ())


# --- policy -------------------------------------------------------------------------------------

def test_scanner_defaults():
    p = policy_mod.default()
    assert "virus" not in p.filters and "spam" not in p.filters
    assert (p.settings("virus").address, p.settings("virus").on_error, p.settings("virus").action) == \
        ("unix:/run/clamav/clamd.ctl", Action.TEMPFAIL, Action.REJECT)
    assert (p.settings("spam").backend, p.settings("spam").address, p.settings("spam").on_error, p.settings("spam").action, p.settings("spam").reject_score) == \
        ("spamd", "inet:127.0.0.1:783", Action.ACCEPT, Action.TAG, 15.0)
    rs = policy_mod.parse('[filters.spam]\nbackend = "rspamd"')
    assert rs.settings("spam").address == "http://127.0.0.1:11333"
    assert policy_mod.parse('[pipeline]\nfilters = ["dlp", "tls", "virus", "spam"]').filters[-1] == "spam"


@pytest.mark.parametrize("text, where", [
    ('[filters.virus]\naddress = "clamd.sock"', "filters.virus.address"),
    ('[filters.virus]\naddress = "inet:127.0.0.1"', "filters.virus.address"),
    ('[filters.virus]\nadress = "unix:/x"', "filters.virus.adress"),
    ('[filters.virus]\naction = "log"', "filters.virus.action"),
    ('[filters.virus]\nmax_size_mb = "10"', "filters.virus.max_size_mb"),
    ('[filters.spam]\nbackend = "dspam"', "filters.spam.backend"),
    ('[filters.spam]\nbackend = "rspamd"\naddress = "inet:127.0.0.1:11333"', "filters.spam.address"),
    ('[filters.spam]\naddress = "http://127.0.0.1:11333"', "filters.spam.address"),
    ('[filters.spam]\nreject_score = "high"', "filters.spam.reject_score"),
    ('[filters.spam]\non_error = "reject"', "filters.spam.on_error"),
    ('[filters.virus]\nbreaker_failures = -1', "filters.virus.breaker_failures"),
    ('[filters.virus]\nbreaker_cooldown = 0', "filters.virus.breaker_cooldown"),
    ('[filters.spam]\nbreaker_failures = 2.5', "filters.spam.breaker_failures"),
    ('[filters.spam]\ntimeout = 1\nconnect_timeout = 5', "filters.spam.connect_timeout"),
    ('[filters.virus]\nconnect_timeout = "2"', "filters.virus.connect_timeout"),
])
def test_scanner_settings_are_validated(text, where):
    with pytest.raises(PolicyError) as info:
        policy_mod.parse("\n\n" + text)
    rendered = "\n".join(info.value.problems) if hasattr(info.value, "problems") else str(info.value)
    assert where in rendered
    assert re.search(r"policy\.toml:[45]: " + re.escape(where), rendered), rendered


def test_facts_never_hold_content():
    assert json.dumps(parse_answer(b"stream: Eicar-Test-Signature FOUND\0"))


async def test_breaker_opens_after_n_hangs_probes_after_cooldown_and_closes(serve, caplog):
    answering: dict[str, bytes | None] = {"now": None}
    address = await serve(hung_then(answering))
    ctx = FilterContext(make_policy(f'[filters.virus]\naddress = "{address}"\ntimeout = 0.2\n'
                              f'breaker_failures = 3\nbreaker_cooldown = 30').site)
    clock = Clock()
    virus = VirusFilter(ctx.site.settings("virus"), clock=clock)
    pipeline = Pipeline([Stage(virus, ctx.site.settings("virus"))])
    for _ in range(3):  # each waits for the time-out
        verdict = await pipeline.run(message(), ctx.site)
        assert verdict.action is Action.TEMPFAIL and verdict.results[0].error
    loop = asyncio.get_running_loop()
    started = loop.time()
    verdict = await pipeline.run(message(), ctx.site)
    assert loop.time() - started < 0.1  # at once: the engine is not asked
    result = verdict.results[0]
    assert verdict.action is Action.TEMPFAIL and result.facts == (("virus", "breaker-open"),) and result.error
    clock.now += 29
    assert (await virus.check(message(), ctx)).facts == (("virus", "breaker-open"),)
    answering["now"] = b"stream: OK\0"  # the engine answers again
    clock.now += 2
    probe = await virus.check(message(), ctx)
    assert probe.facts == (("virus", "clean"),)
    assert (await virus.check(message(), ctx)).facts == (("virus", "clean"),)  # closed
    changes = [r.message for r in caplog.records if "breaker" in r.message]
    assert len(changes) == 3 and "open" in changes[0] and "half-open" in changes[1] and "closed" in changes[2]
    assert all(address.removeprefix("inet:") in c for c in changes)
    assert not any("opted.example" in r.message or "far.example" in r.message for r in caplog.records
                   if "breaker" in r.message)


async def test_failed_probe_opens_the_breaker_again_and_only_one_probe_goes(serve):
    answering: dict[str, bytes | None] = {"now": None}
    address = await serve(hung_then(answering))
    ctx = FilterContext(make_policy(f'[filters.spam]\naddress = "{address}"\ntimeout = 0.2\n'
                              f'breaker_failures = 1\nbreaker_cooldown = 5').site)
    clock = Clock()
    spam = SpamFilter(ctx.site.settings("spam"), clock=clock)
    with pytest.raises(ScannerError):
        await spam.check(message(), ctx)
    assert (await spam.check(message(), ctx)).facts == (("spam", "breaker-open"),)
    clock.now += 5
    probe = asyncio.ensure_future(spam.check(message(), ctx))
    await asyncio.sleep(0.05)
    other = await spam.check(message(), ctx)  # while the probe is out
    assert other.facts == (("spam", "breaker-open"),) and other.action is Action.ACCEPT  # spam on_error
    with pytest.raises(ScannerError):
        await probe
    assert (await spam.check(message(), ctx)).facts == (("spam", "breaker-open"),)  # open again


async def test_an_engine_error_about_one_message_does_not_open_the_breaker(serve):
    address = await serve(clamd(b"INSTREAM size limit exceeded. ERROR\0"))
    ctx = FilterContext(make_policy(f'[filters.virus]\naddress = "{address}"\nbreaker_failures = 1').site)
    virus = VirusFilter(ctx.site.settings("virus"), clock=Clock())
    for _ in range(2):
        with pytest.raises(ScannerError, match="size limit"):
            await virus.check(message(), ctx)


async def test_connect_timeout_is_separate_and_short(monkeypatch):
    from privacy_filters import scanner_client

    seen: list[float] = []

    async def fake_open(address, timeout):
        seen.append(timeout)
        raise ScannerError("down")

    monkeypatch.setattr(virus_mod, "open_stream", fake_open)
    monkeypatch.setattr(spam_mod, "open_stream", fake_open)
    ctx = FilterContext(make_policy('[filters.virus]\ntimeout = 30\nconnect_timeout = 1.5\n[filters.spam]\ntimeout = 20').site)
    for f in (VirusFilter(ctx.site.settings("virus")), SpamFilter(ctx.site.settings("spam"))):
        with pytest.raises(ScannerError):
            await f.check(message(), ctx)
    assert seen == [1.5, 2.0]
    assert scanner_client.ScannerError is ScannerError
    p = policy_mod.default()
    assert (p.settings("virus").breaker_failures, p.settings("virus").breaker_cooldown,
            p.settings("spam").connect_timeout) == (5, 30.0, 2.0)
