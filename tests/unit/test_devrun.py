"""make run's policy copy: every written path moved into the checkout, or refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy_milter import devrun
from privacy_milter import policy as policy_mod
from privacy_milter.devrun import outside, set_key, write_dev_policy, written_paths
from privacy_milter.errors import PolicyError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "policy.toml"


def test_the_shipped_policy_is_moved_entirely_into_the_two_folders(tmp_path):
    run, var = tmp_path / "run", tmp_path / "var"
    policy = write_dev_policy(REPO / "policy.toml", run, var, run / "policy.toml")
    assert outside(policy, [run, var]) == []
    assert set(written_paths(policy)) >= {"[milter] socket", "[store] path", "[store] key_file",
                                          "[tls_policy] socket", "[summary] maillog_state"}
    again = policy_mod.load(run / "policy.toml")  # the daemon reads the same thing
    assert again.store.key_file == var / "address.key"
    assert again.milter.socket == f"unix:{run / 'milter.sock'}"
    # the rest of the policy is the developer's, unchanged
    shipped = policy_mod.load(REPO / "policy.toml")
    assert again.filters == shipped.filters and again.network == shipped.network


def test_missing_tables_and_keys_are_added():
    text = '[milter]\ndeadline = 60\n[store.extra]\n'
    out = set_key(set_key(text, "milter", "socket", "unix:/x/m.sock"), "summary", "maillog_state", "/x/p")
    assert out.splitlines()[1].startswith('socket = "unix:/x/m.sock"')
    assert '[summary]\nmaillog_state = "/x/p"' in out
    assert set_key('[store]\n# path = "/var/old"\n', "store", "path", "/x/db").count("path =") == 2  # comment kept


def test_a_written_path_it_cannot_move_is_refused(tmp_path):
    src = tmp_path / "policy.toml"
    src.write_text((REPO / "policy.toml").read_text().replace('file = ""', 'file = "/var/log/privacy-milter.log"', 1))
    with pytest.raises(PolicyError) as info:
        write_dev_policy(src, tmp_path / "run", tmp_path / "var", tmp_path / "run" / "policy.toml")
    assert "[log] file = /var/log/privacy-milter.log" in str(info.value)
    assert not (tmp_path / "run" / "policy.toml").exists()


def test_an_invalid_policy_is_reported_against_the_developers_file(tmp_path):
    src = tmp_path / "policy.toml"
    src.write_text("[milter]\ndeadline = -1\n")
    with pytest.raises(PolicyError) as info:
        write_dev_policy(src, tmp_path / "run", tmp_path / "var", tmp_path / "out.toml")
    assert str(src) in str(info.value)


def test_a_host_postfix_cannot_name_gets_a_reserved_dev_name(tmp_path, monkeypatch, capsys):
    """A fresh Debian: no /etc/postfix/main.cf, getfqdn() says localhost. The daemon refuses
    such a host (issue 23 item 4), so `make run` names it under .invalid and says so."""
    monkeypatch.setenv("MAIL_CONFIG", str(tmp_path / "no-postfix-here"))
    monkeypatch.setattr(devrun.hostname.socket, "getfqdn", lambda *a: "localhost")
    policy = devrun.write_dev_policy(SHIPPED, tmp_path / "run", tmp_path / "var", tmp_path / "run" / "p.toml")
    assert policy.store.host_name == devrun.DEV_HOST_NAME
    assert devrun.hostname.problem(devrun.DEV_HOST_NAME) is None
    assert "cannot tell this host's name" in capsys.readouterr().err


def test_a_host_postfix_names_keeps_its_name(tmp_path, monkeypatch):
    conf = tmp_path / "pf"
    conf.mkdir()
    (conf / "main.cf").write_text("myhostname = mx1.shop.example\n")
    monkeypatch.setenv("MAIL_CONFIG", str(conf))
    policy = devrun.write_dev_policy(SHIPPED, tmp_path / "run", tmp_path / "var", tmp_path / "run" / "p.toml")
    assert policy.store.host_name == ""
