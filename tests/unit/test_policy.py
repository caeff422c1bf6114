import subprocess
import sys
from pathlib import Path

from privacy_filters.dlp_filter import customer_action

import pytest

from privacy_milter import policy
from privacy_milter.model import Action, Confidence
from privacy_milter.registry import FILTERS

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_policy_is_valid_and_matches_the_defaults():
    shipped = policy.load(ROOT / "policy.toml")
    builtin = policy.default()
    for section in ("milter", "log", "store", "network", "filters", "tls_policy", "metrics", "summary", "smtp"):
        assert getattr(shipped, section) == getattr(builtin, section), section
    for name in FILTERS:
        assert shipped.settings(name) == builtin.settings(name), name


def test_every_registered_filter_has_settings_and_a_table_in_the_shipped_policy():
    shipped_text = (ROOT / "policy.toml").read_text()
    for name in FILTERS:
        assert isinstance(policy.default().settings(name), policy.FilterSettings)
        assert f"[filters.{name}]" in shipped_text, name


def test_values_are_typed():
    p = policy.parse("""
[milter]
socket = "inet:8890@127.0.0.1"
socket_mode = "0600"
[network]
hosted_domains = ["Example.CO.uk."]
trusted_networks = ["192.0.2.0/24"]
[filters.dlp.actions]
iban = { high = "quarantine", low = "tag" }
[customers."shop.example"]
spam = true
[customers."shop.example".dlp_actions]
password = { high = "log" }
""")
    assert p.milter.socket_mode == 0o600
    assert p.network.is_hosted("example.co.uk") and p.network.is_hosted("mail.example.co.uk")
    assert p.network.is_trusted("192.0.2.7") and not p.network.is_trusted("198.51.100.1")
    assert p.settings("dlp").action_for("iban", Confidence.HIGH) is Action.QUARANTINE
    assert p.settings("dlp").action_for("iban", Confidence.LOW) is Action.TAG
    assert p.settings("dlp").action_for("iban", Confidence.MEDIUM) is Action.TAG  # default kept
    assert p.customer("mail.shop.example").opted_in("spam")
    assert not p.customer("mail.shop.example").opted_in("virus")
    dlp = p.settings("dlp")
    assert customer_action(p, dlp, "shop.example", "password", Confidence.HIGH) is Action.ACCEPT
    assert customer_action(p, dlp, "other.example", "password", Confidence.HIGH) is Action.REJECT


def problems(text: str) -> list[str]:
    with pytest.raises(policy.PolicyError) as info:
        policy.parse(text, "p.toml")
    return info.value.problems


def test_every_problem_is_reported_with_path_and_line():
    found = problems("""[milter]
timeout = "soon"
socket = "tcp:1"

[store]
retention_days = 0
colour = "blue"

[filters.dlp.actions]
iban = { high = "shred" }
""")
    assert found == [
        'p.toml:3: milter.socket: must look like unix:/var/spool/postfix/privacy-milter/milter.sock or inet:8890@127.0.0.1',
        'p.toml:2: milter.timeout: expected a whole number, got "soon"',
        "p.toml:6: store.retention_days: must be at least 1; got 0",
        "p.toml:7: store.colour: unknown setting",
        'p.toml:10: filters.dlp.actions.iban.high: must be one of log, quarantine, reject, tag; got "shred"',
    ]


@pytest.mark.parametrize("text, expected", [
    ('[pipeline]\nfilters = ["dlp", "magic"]', "pipeline.filters: item 2"),
    ('[pipeline]\nfilters = ["dlp", "dlp"]', "lists a filter twice"),
    ('[network]\ntrusted_networks = ["10.0.0.300/8"]', "not an IP network"),
    ('[network]\nhosted_domains = ["a@b"]', "not a domain name"),
    ('[filters.dlp]\non_error = "explode"', "must be one of accept, tempfail"),
    ('[filters.dlp]\nallow_senders = ["billing"]', "must be an address or @domain"),
    ('[filters.dlp.actions]\nbitcoin = { high = "tag" }', "unknown category"),
    ('[milter]\nsocket_mode = "999"', "octal mode"),
    ('[milter]\ndeadline = 1000', "at most 290"),
    ('milter = 3', "milter: expected a table"),
    ('[filters.tls]\nrequire_tls_for_auth = "yes"', "expected true or false"),
])
def test_bad_values(text, expected):
    assert any(expected in p for p in problems(text)), problems(text)


def test_toml_syntax_error_names_the_line():
    (problem,) = problems("[milter\nsocket = 1")
    assert "line 1" in problem


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "privacy_milter.cli", "policy", "check", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_policy_check_command(tmp_path):
    good = run_check(ROOT / "policy.toml")
    assert good.returncode == 0 and "OK" in good.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[store]\nretention_days = -1\n[milter]\nsocket = "x"\n')
    out = run_check(bad)
    assert out.returncode == 1
    assert f"{bad}:2: store.retention_days" in out.stderr
    assert f"{bad}:4: milter.socket" in out.stderr
    missing = run_check(tmp_path / "absent.toml")
    assert missing.returncode == 1 and "cannot read" in missing.stderr


def load_in_thread(path: Path, timeout: float = 5.0):
    """policy.load in a thread, so a read that blocks fails the test instead of hanging it."""
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        future = pool.submit(policy.load, path)
        return future.result(timeout)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    fifo = tmp_path / "policy.toml"
    os.mkfifo(fifo)
    with pytest.raises(policy.PolicyError, match="not a regular file"):
        load_in_thread(fifo)
    link = tmp_path / "link.toml"
    link.symlink_to(fifo)
    with pytest.raises(policy.PolicyError, match="not a regular file"):
        load_in_thread(link)


def test_a_symlink_to_a_regular_file_is_followed(tmp_path):
    real = tmp_path / "real.toml"
    real.write_text("[milter]\ntimeout = 7\n")
    link = tmp_path / "policy.toml"
    link.symlink_to(real)
    assert load_in_thread(link).milter.timeout == 7


def test_a_huge_policy_file_is_refused_with_its_size(tmp_path):
    big = tmp_path / "policy.toml"
    big.write_text("# padding\n" * (2 * 1024 * 1024 // 10))
    with pytest.raises(policy.PolicyError, match="over the limit of 1048576 bytes"):
        load_in_thread(big)


def test_max_connections_is_validated():
    assert policy.parse("[milter]\nmax_connections = 50\n").milter.max_connections == 50
    assert any("milter.max_connections" in p for p in problems("[milter]\nmax_connections = 0\n"))


@pytest.mark.parametrize("spec", ["inet:8890", "inet:8890@0.0.0.0", "inet:8890@192.0.2.5",
                                  "inet6:8890@::", "inet:8890@mail.example"])
def test_a_non_loopback_inet_socket_is_refused_unless_allowed(spec):
    found = problems(f'[milter]\nsocket = "{spec}"\n')
    assert any("milter.socket" in p and "not loopback" in p for p in found), found
    allowed = policy.parse(f'[milter]\nsocket = "{spec}"\nallow_remote = true\n')
    assert allowed.milter.allow_remote is True


def test_policy_check_warns_about_a_loopback_inet_socket(tmp_path):
    loopback = tmp_path / "inet.toml"
    loopback.write_text('[milter]\nsocket = "inet:8890@127.0.0.1"\n')
    out = run_check(loopback)
    assert out.returncode == 0 and "OK" in out.stdout
    assert "warning" in out.stderr and "no access control" in out.stderr
    unix = run_check(ROOT / "policy.toml")
    assert "no access control" not in unix.stderr  # (a resolver warning may be there: issue 23)
    remote = tmp_path / "remote.toml"
    remote.write_text('[milter]\nsocket = "inet:8890@0.0.0.0"\n')
    out = run_check(remote)
    assert out.returncode == 1 and "milter.socket" in out.stderr and "allow_remote" in out.stderr
