"""The CLI's store commands (stats, subject, purge) on a store filled through the API."""

import asyncio
import json
import time

import pytest

from privacy_milter import cli
from privacy_milter.model import Action, Message, Recipient, Session, Verdict
from privacy_milter.store import AddressHasher, SqliteStore, record_from


@pytest.fixture
def policy_file(tmp_path):
    p = tmp_path / "policy.toml"
    p.write_text(f'[store]\npath = "{tmp_path}/meta.db"\nkey_file = "{tmp_path}/address.key"\n')
    hasher = AddressHasher.from_file(tmp_path / "address.key")

    async def fill():
        store = SqliteStore(tmp_path / "meta.db")
        await store.setup()
        for sender, when in (("alice@shop.example", time.time()), ("carol@shop.example", time.time() - 90 * 86400)):
            m = Message(Session("c"), mail_from=sender, recipients=[Recipient("bob@far.example")], queue_id="Q1")
            store.add(record_from(m, Verdict(Action.ACCEPT, ()), hasher, when))
            m.close()
        await store.close()

    asyncio.run(fill())
    return p


def test_stats_json(policy_file, capsys):
    assert cli.main(["stats", "--json", "--policy", str(policy_file)]) == 0
    assert json.loads(capsys.readouterr().out)["messages"] == 2


def test_stats_json_counts_per_host(tmp_path, capsys):
    """As the text output's per-host line: {host: messages}, here from two hosts' records."""
    from privacy_milter.store import BufferedWriter, SqliteBackend

    db = tmp_path / "meta.db"
    p = tmp_path / "policy.toml"
    p.write_text(f'[store]\npath = "{db}"\nkey_file = "{tmp_path}/address.key"\n')
    hasher = AddressHasher.from_file(tmp_path / "address.key")

    async def fill():
        for host, n in (("mx1.shop.example", 2), ("mx2.shop.example", 1)):
            store = BufferedWriter(SqliteBackend(db, host=host))
            await store.setup()
            for _ in range(n):
                m = Message(Session("c"), mail_from="a@shop.example", recipients=[Recipient("b@far.example")],
                            queue_id="Q1")
                store.add(record_from(m, Verdict(Action.ACCEPT, ()), hasher, time.time()))
                m.close()
            await store.close()

    asyncio.run(fill())
    assert cli.main(["stats", "--json", "--policy", str(p)]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["hosts"] == {"mx1.shop.example": 2, "mx2.shop.example": 1} and counts["messages"] == 3
    assert cli.main(["stats", "--policy", str(p)]) == 0
    assert "hosts: mx1.shop.example=2, mx2.shop.example=1" in capsys.readouterr().out


def test_stats_text(policy_file, capsys):
    assert cli.main(["stats", "--policy", str(policy_file)]) == 0
    assert "messages: 2" in capsys.readouterr().out


def test_subject_export_and_delete(policy_file, capsys):
    assert cli.main(["subject", "export", "Alice@shop.example", "--policy", str(policy_file)]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert len(exported["records"]) == 1 and exported["records"][0]["sender_domain"] == "shop.example"
    assert cli.main(["subject", "delete", "alice@shop.example", "--policy", str(policy_file)]) == 0
    assert "deleted 1 record" in capsys.readouterr().out


def test_purge(policy_file, capsys):
    assert cli.main(["purge", "--policy", str(policy_file)]) == 0
    assert "removed 1 record" in capsys.readouterr().out


def test_bad_policy_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[store]\nretention_days = 'long'\n")
    assert cli.main(["stats", "--policy", str(bad)]) == 78
    assert "store.retention_days" in capsys.readouterr().err


def test_run_refuses_invalid_policy(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[milter]\nsocket = 'nowhere'\n")
    assert cli.main(["run", "--policy", str(bad)]) == 78
    assert "not starting" in capsys.readouterr().err


def test_store_commands_do_not_create_a_missing_store(tmp_path, capsys):
    p = tmp_path / "policy.toml"
    p.write_text(f'[store]\npath = "{tmp_path}/absent/meta.db"\n')
    assert cli.main(["stats", "--policy", str(p)]) == 69
    assert "no store at" in capsys.readouterr().err
    assert not (tmp_path / "absent").exists()
