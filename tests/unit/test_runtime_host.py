"""The runtime's one host name: resolved at start from Postfix's myhostname (the real
postconf over a main.cf the test writes), kept across reloads, handed to the filters; a
start with no usable name is refused. [smtp] and [summary] changes wait for a restart."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.hostname import HostNameError
from privacy_milter.runtime import Runtime

BASE = """
[store]
path = "{dir}/meta.db"
key_file = "{dir}/address.key"
[tls_policy]
enabled = false
[pipeline]
filters = ["dlp", "dkim"]
"""


def _postfix(tmp_path: Path, myhostname: str) -> Path:
    etc = tmp_path / "postfix"
    etc.mkdir(exist_ok=True)
    (etc / "main.cf").write_text(f"myhostname = {myhostname}\n")
    (etc / "master.cf").write_text("")
    return etc


async def test_the_name_comes_from_postfix_and_survives_a_reload(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("MAIL_CONFIG", str(_postfix(tmp_path, "MX1.Shop.Example")))
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path))
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    try:
        assert rt.policy.store.host_name == "mx1.shop.example" == rt.services.host_name
        assert rt.store.backend.host == "mx1.shop.example"
        dkim = next(s.filter for s in rt.snapshot.pipeline.stages if s.filter.name == "dkim")
        assert dkim.authserv_id == "mx1.shop.example"
        caplog.set_level(logging.WARNING)
        path.write_text(path.read_text() + '[smtp]\nport = 2525\n[summary]\nhour = 9\n')
        assert rt.reload("test") is True
        assert rt.policy.store.host_name == "mx1.shop.example"
        assert "policy reload: [summary], [smtp] changed; they take effect at the next restart" in caplog.text
        assert rt.policy.smtp.port == 25
    finally:
        await rt.stop()


@pytest.mark.parametrize("myhostname", ["localhost", "mx1"])
async def test_no_usable_name_refuses_to_start(tmp_path, monkeypatch, myhostname):
    monkeypatch.setenv("MAIL_CONFIG", str(_postfix(tmp_path, myhostname)))
    monkeypatch.setattr("privacy_milter.hostname.socket.getfqdn", lambda: "localhost")
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path))
    with pytest.raises(HostNameError, match="cannot tell this host's name"):
        await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    assert not (tmp_path / "meta.db").exists()     # refused before anything was opened


async def test_the_command_lines_host_name_wins_and_is_checked(tmp_path, monkeypatch):
    from privacy_milter import cli
    from privacy_milter.policy import Overrides

    monkeypatch.setenv("MAIL_CONFIG", str(_postfix(tmp_path, "mx1.shop.example")))
    args = cli._parser().parse_args(["run", "--policy", "p.toml", "--host-name", "mx9.shop.example"])
    assert args.host_name == "mx9.shop.example"
    path = tmp_path / "policy.toml"
    path.write_text(BASE.format(dir=tmp_path))
    overrides = Overrides(host_name=args.host_name)
    rt = await Runtime.start(overrides.apply(policy_mod.load(path)), policy_path=path, overrides=overrides,
                             watch=False)
    try:
        assert rt.policy.store.host_name == "mx9.shop.example" == rt.store.backend.host
    finally:
        await rt.stop()
    bad = Overrides(host_name="localhost")
    with pytest.raises(HostNameError, match='host_name = "localhost" is a placeholder'):
        await Runtime.start(bad.apply(policy_mod.load(path)), policy_path=path, overrides=bad, watch=False)
