"""This host's one name: [store] host_name, else Postfix's myhostname (the real postconf
over a main.cf the test writes), else getfqdn; placeholders and dotless names refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import aiosqlite
import pytest

from privacy_milter import cli, hostname
from privacy_milter import policy as policy_mod
from privacy_milter.hostname import HostNameError

pytestmark = pytest.mark.skipif(shutil.which("postconf", path="/usr/sbin:/usr/bin") is None,
                                reason="needs Postfix's postconf")
DATA = Path(__file__).resolve().parent / "maillog" / "data" / "postfix37-maillog_file.log"


def _postfix_etc(tmp_path: Path, myhostname: str | None) -> Path:
    etc = tmp_path / "etc"
    etc.mkdir(exist_ok=True)
    (etc / "main.cf").write_text(f"myhostname = {myhostname}\n" if myhostname else "")
    (etc / "master.cf").write_text("")
    return etc


@pytest.mark.parametrize("name, why", [
    ("localhost", "placeholder"), ("localhost.localdomain", "placeholder"), ("vm.localdomain", "placeholder"),
    ("mx1", "has no dot"), ("a b.example", "is not a host name"), ("-mx.example", "is not a host name"),
])
def test_placeholders_and_short_names_are_refused(name, why):
    assert why in (hostname.problem(name) or "")


def test_a_set_name_wins_and_is_normalised(tmp_path):
    assert hostname.resolve("MX1.Shop.Example.", _postfix_etc(tmp_path, "other.example")) == "mx1.shop.example"


def test_postfixs_myhostname_when_none_is_set(tmp_path):
    assert hostname.resolve("", _postfix_etc(tmp_path, "mx1.shop.example")) == "mx1.shop.example"


def test_postfixs_own_fallback_name_is_refused_and_getfqdn_tried(tmp_path, monkeypatch):
    # an empty main.cf: Postfix's myhostname is the bare host name + ".localdomain"
    monkeypatch.setattr(hostname.socket, "getfqdn", lambda: "localhost")
    with pytest.raises(HostNameError) as err:
        hostname.resolve("", _postfix_etc(tmp_path, None))
    text = str(err.value)
    assert "Postfix's myhostname" in text and "placeholder" in text
    assert 'socket.getfqdn() "localhost"' in text
    assert "postconf -e myhostname=" in text and '[store] host_name = "mx1.example.net"' in text


def test_getfqdn_is_the_last_resort(tmp_path, monkeypatch):
    monkeypatch.setattr(hostname.socket, "getfqdn", lambda: "mx2.shop.example")
    assert hostname.resolve("", tmp_path / "no-postfix-here") == "mx2.shop.example"


def test_a_bad_set_name_says_which_setting(tmp_path):
    with pytest.raises(HostNameError, match=r'\[store\] host_name = "localhost" is a placeholder'):
        hostname.resolve("localhost", _postfix_etc(tmp_path, "mx1.shop.example"))


def test_policy_refuses_a_placeholder_host_name_with_its_line():
    with pytest.raises(policy_mod.PolicyError) as info:
        policy_mod.parse('[store]\nhost_name = "localhost"\n', "p.toml")
    (problem,) = info.value.problems
    assert problem.startswith("p.toml:2: store.host_name: is a placeholder")
    with pytest.raises(policy_mod.PolicyError, match="has no dot"):
        policy_mod.parse('[store]\nhost_name = "mx1"\n', "p.toml")


def test_policy_check_names_the_host_or_says_why_the_daemon_would_not_start(tmp_path, monkeypatch, capsys):
    path = tmp_path / "p.toml"
    path.write_text("")
    monkeypatch.setenv("MAIL_CONFIG", str(_postfix_etc(tmp_path, "mx1.shop.example")))
    assert cli.main(["policy", "check", str(path)]) == 0
    assert "OK (host mx1.shop.example;" in capsys.readouterr().out
    monkeypatch.setenv("MAIL_CONFIG", str(_postfix_etc(tmp_path, "localhost")))
    monkeypatch.setattr(hostname.socket, "getfqdn", lambda: "localhost")
    assert cli.main(["policy", "check", str(path)]) == 1
    err = capsys.readouterr().err
    assert "the daemon would not start: cannot tell this host's name" in err


async def test_delivery_rows_of_this_host_get_the_records_name(tmp_path):
    """Postfix logs as `mx` (the first label of its myhostname); the records say mx.harness.test."""
    from privacy_milter.summary.job import summary_jobs

    log = tmp_path / "mail.log"
    log.write_bytes(DATA.read_bytes() + DATA.read_bytes().replace(b" mx postfix/", b" mx2 postfix/"))
    store = tmp_path / "m.db"
    p = policy_mod.parse(f'[store]\npath = "{store}"\nhost_name = "mx.harness.test"\n'
                         f'[summary]\nmaillog = "{log}"\nmaillog_state = "{tmp_path / "pos"}"\n')
    (job,) = summary_jobs(p)
    job.run.follower._from_start = True  # type: ignore[attr-defined]
    assert await job.run() > 0
    async with aiosqlite.connect(store) as db:
        async with db.execute("SELECT DISTINCT host FROM deliveries ORDER BY host") as cur:
            assert [row[0] async for row in cur] == ["mx.harness.test", "mx2"]
