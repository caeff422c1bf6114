"""Adding a check is a local change: a filter defined here, with its own settings table,
registered, validated by `policy check`, and run through the pipeline and the runtime."""

from dataclasses import dataclass
from pathlib import Path

import pytest

from privacy_milter import cli, registry
from privacy_milter import policy as policy_mod
from privacy_milter.model import (Action, Direction, DirectionDecision, HeaderEdit, Message, Recipient, Result,
                                  Session)
from privacy_milter.logline import message_line
from privacy_milter.metrics import Metrics
from privacy_milter.plugin import Command, CommandEnv, Counter, FilterSettings, FilterSpec, Symbol, read_common
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


# --- issue 25: a filter brings its own symbols and its own CLI subcommand -----------------------
# Everything below is what a new check's module would hold (filters/privacy_filters/NAME.py);
# the one line in the core is registry.register (in the build: one line in registry.FILTERS).

MOODS = Counter("privacy_milter_greeting_moods_total", "Greetings by mood", ("mood",))


class Moody(Greeting):
    """A greeting that says how it felt: a declared fact, counted and logged."""

    async def check(self, message, ctx):
        return Result(self.name, facts=(("greeting_mood", "happy"),))


def _add_wave(parser, env: CommandEnv) -> None:
    parser.add_argument("times", type=int)


def _wave(args, env: CommandEnv) -> int:
    word = env.load_site(None).settings("greeting").word
    env.out.write(" ".join([word] * args.times) + "\n")
    return 0


MOODY_SPEC = FilterSpec(
    name="greeting", read=read_greeting, build=Moody,
    symbols=(Symbol("greeting_mood", frozenset({"happy", "sad"}), "how the greeting felt", counter=MOODS,
                    labels=lambda value, failed: ((value if value in {"happy", "sad"} else "other",),),
                    log_key="mood"),),
    commands=(Command("wave", "wave at the admin", _add_wave, _wave),))


@pytest.fixture
def moody():
    registry.register(MOODY_SPEC)
    yield
    registry.unregister("greeting")


async def test_a_new_filters_symbols_reach_metrics_and_the_log_line_without_core_changes(moody):
    policy = policy_mod.parse('[pipeline]\nfilters = ["dlp", "greeting"]\n')
    m = Message(Session("c", auth_authen="alice"), mail_from="a@shop.example", recipients=[Recipient("b@far.example")],
                queue_id="4MOOD")
    m.direction = DirectionDecision(Direction.OUTBOUND, "auth")
    m.write_body(b"hello\r\n")
    verdict = await registry.build_pipeline(policy).run(m, policy.site)
    assert ("greeting_mood", "happy") in verdict.results[-1].facts
    metrics = Metrics(policy.filters)
    metrics.observe(m, verdict, 0.01)
    assert metrics.registry.get_sample_value("privacy_milter_greeting_moods_total", {"mood": "happy"}) == 1
    assert message_line(m, verdict).endswith(" findings=none mood=happy")


def test_a_new_filters_command_is_a_privacy_milter_subcommand(moody, tmp_path, capsys):
    assert cli.main(["wave", "3"]) == 0
    assert capsys.readouterr().out == "hello hello hello\n"


def test_the_core_names_no_filter():
    """What made the two tests above possible: outside registry.py, no module of the core
    names a filter's module (tests/unit/test_import_guard.py holds the import rules)."""
    core = Path(cli.__file__).parent
    for path in core.rglob("*.py"):
        # doctor/: main's, merged while the seam was built (test_import_guard.DOCTOR_IMPORTS)
        if path.name != "registry.py" and path.parent.name != "doctor":
            assert "privacy_filters" not in path.read_text().replace("privacy_filters/", ""), path


def test_the_filter_contract_has_no_any():
    """plugin, site and pipeline name no `Any` (mypy's disallow_any_explicit holds them to it
    too, pyproject.toml): what crosses the seam is typed."""
    import ast

    from privacy_milter import pipeline, plugin, site

    for module in (plugin, site, pipeline):
        tree = ast.parse(Path(module.__file__).read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
                {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        assert "Any" not in names, module.__name__
