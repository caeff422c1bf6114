"""Adding a check is a local change: a filter defined here, with its own settings table,
registered, validated by `policy check`, and run through the pipeline and the runtime."""

from dataclasses import dataclass

import pytest

from privacy_milter import cli, registry
from privacy_milter import policy as policy_mod
from privacy_milter.model import (Action, Direction, DirectionDecision, HeaderEdit, Message, Recipient, Result,
                                  Session)
from privacy_milter.plugin import FilterSettings, FilterSpec, read_common
from privacy_milter.tomlcheck import Reader


@dataclass(frozen=True)
class GreetingSettings(FilterSettings):
    word: str = "hello"
    times: int = 1


def read_greeting(r: Reader) -> GreetingSettings:
    timeout, on_error = read_common(r, 1.0, "accept")
    settings = GreetingSettings(timeout=timeout, on_error=on_error, word=r.string("word", "hello"),
                                times=r.integer("times", 1, 1, 5))
    if " " in settings.word:
        r.problem("word", "must be one word")
    r.done()
    return settings


class Greeting:
    name = "greeting"

    def __init__(self, settings: GreetingSettings, services) -> None:
        self.settings = settings

    async def check(self, message, ctx):
        seen = ",".join(r.filter for r in ctx.results)
        return Result(self.name, edits=(HeaderEdit.insert("X-Greeting", f"{self.settings.word * self.settings.times}"
                                                                         f" after {seen}"),))


@pytest.fixture
def greeting():
    registry.register(FilterSpec(name="greeting", read=read_greeting, build=Greeting, after=("dlp",)))
    yield
    registry.unregister("greeting")


POLICY = """
[pipeline]
filters = ["dlp", "greeting"]
[filters.greeting]
word = "hi"
times = 2
"""


async def test_a_filter_defined_here_runs_with_its_own_settings(greeting):
    policy = policy_mod.parse(POLICY)
    assert policy.settings("greeting") == GreetingSettings(timeout=1.0, on_error=Action.ACCEPT, word="hi", times=2)
    pipeline = registry.build_pipeline(policy)
    m = Message(Session("c", auth_authen="alice"), mail_from="a@shop.example", recipients=[Recipient("b@far.example")])
    m.direction = DirectionDecision(Direction.OUTBOUND, "auth")
    m.write_body(b"hello\r\n")
    verdict = await pipeline.run(m, policy.site)
    assert [r.filter for r in verdict.results] == ["dlp", "greeting"]
    assert verdict.edits[-1] == HeaderEdit.insert("X-Greeting", "hihi after dlp")


def test_policy_check_validates_the_new_filter_table_with_key_paths_and_lines(greeting, tmp_path, capsys):
    good = tmp_path / "good.toml"
    good.write_text(POLICY)
    assert cli.main(["policy", "check", str(good)]) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(POLICY.replace('word = "hi"', 'word = "hi there"').replace("times = 2", "times = 9\nloud = true"))
    assert cli.main(["policy", "check", str(bad)]) == 1
    err = capsys.readouterr()
    text = err.out + err.err
    assert "bad.toml:5: filters.greeting.word: must be one word" in text
    assert "bad.toml:6: filters.greeting.times" in text and "bad.toml:7: filters.greeting.loud: unknown setting" in text


def test_ordering_needs_and_unknown_filters_are_reported(greeting):
    with pytest.raises(policy_mod.PolicyError) as err:
        policy_mod.parse('[pipeline]\nfilters = ["greeting", "dlp"]\n')
    assert '"greeting" must come after "dlp"' in str(err.value)
    with pytest.raises(policy_mod.PolicyError) as err:
        policy_mod.parse('[filters.nonesuch]\ntimeout = 1\n')
    assert "filters.nonesuch" in str(err.value) and "greeting" in str(err.value)


def test_without_registration_the_table_is_unknown():
    with pytest.raises(policy_mod.PolicyError) as err:
        policy_mod.parse(POLICY)
    assert "unknown filter" in str(err.value)
