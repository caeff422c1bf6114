"""doctor's pieces that need no server: reading Postfix's milter lists, matching sockets,
permission arithmetic, the bounded runner, exit codes and the text output."""

from __future__ import annotations

import io
import os
import pwd
import threading
from pathlib import Path

from privacy_milter.doctor import runner
from privacy_milter.doctor.access import User, allows
from privacy_milter.doctor.model import Setup, Status, fail, ok, skip, warn
from privacy_milter.doctor.postfix_checks import milter_entries, postfix_form, same_socket

QUEUE = "/var/spool/postfix"
SOCK = "unix:/var/spool/postfix/privacy-milter/milter.sock"


def test_milter_entries_reads_lists_and_groups() -> None:
    value = "unix:privacy-milter/milter.sock, { inet:127.0.0.1:8891, default_action=accept } inet:localhost:11332"
    assert milter_entries(value) == ["unix:privacy-milter/milter.sock", "inet:127.0.0.1:8891",
                                     "inet:localhost:11332"]
    assert milter_entries("") == []


def test_same_socket_follows_postfix_path_rules() -> None:
    assert same_socket(SOCK, "unix:privacy-milter/milter.sock", QUEUE)       # relative: in the queue dir
    assert same_socket(SOCK, f"unix:{SOCK[5:]}", QUEUE)                        # absolute, unchrooted
    assert same_socket(SOCK, "unix:/privacy-milter/milter.sock", QUEUE)       # absolute inside the chroot
    assert not same_socket(SOCK, "unix:opendkim/opendkim.sock", QUEUE)
    assert not same_socket(SOCK, "inet:127.0.0.1:8891", QUEUE)
    assert same_socket("inet:10029@127.0.0.1", "inet:127.0.0.1:10029", QUEUE)
    assert same_socket("inet:10029@127.0.0.1", "inet:localhost:10029", QUEUE)
    assert not same_socket("inet:10029@127.0.0.1", "inet:127.0.0.1:10030", QUEUE)


def test_postfix_form_is_relative_to_the_queue_directory() -> None:
    assert postfix_form(SOCK, QUEUE) == "unix:privacy-milter/milter.sock"
    assert postfix_form("unix:/run/pm/milter.sock", QUEUE) == "unix:/run/pm/milter.sock"
    assert postfix_form("inet:10029@127.0.0.1", QUEUE) == "inet:127.0.0.1:10029"


def _stat(mode: int, uid: int, gid: int) -> os.stat_result:
    return os.stat_result((mode, 0, 0, 1, uid, gid, 0, 0, 0, 0))


def test_allows_checks_owner_then_group_then_others() -> None:
    postfix = User("postfix", 107, frozenset({114, 120}))
    assert allows(postfix, _stat(0o140660, 999, 120), 2)          # a member of the socket's group
    assert not allows(postfix, _stat(0o140660, 999, 0), 2)        # root's group, not postfix's
    assert allows(postfix, _stat(0o140666, 999, 0), 2)            # world-writable
    assert not allows(postfix, _stat(0o140066, 107, 0), 2)        # the owner's bits count, not others'
    assert allows(User("root", 0, frozenset({0})), _stat(0o140600, 999, 999), 6)


def _setup() -> Setup:
    return Setup(Path("policy.toml"), None, None)


def test_runner_bounds_a_hung_check_and_reports_a_crashed_one() -> None:
    release = threading.Event()

    def hung(_s: Setup) -> list:
        release.wait(30)
        return [ok("hung", "late")]

    def crashed(_s: Setup) -> list:
        raise ValueError("boom")

    try:
        found = runner.run(_setup(), [("hung", hung, 0.3), ("crashed", crashed, 1.0),
                                      ("fine", lambda s: [ok("fine", "yes")], 1.0)], budget=2.0)
    finally:
        release.set()
    assert [(f.check, f.status) for f in found] == [("hung", Status.FAIL), ("crashed", Status.FAIL),
                                                    ("fine", Status.OK)]
    assert found[0].text == "the check did not finish within 0.3s"
    assert found[1].text == "the check itself failed: ValueError: boom"


def test_exit_code_is_the_worst_line() -> None:
    assert runner.exit_code([ok("a", "x")]) == 0
    assert runner.exit_code([ok("a", "x"), warn("b", "y")]) == 1
    assert runner.exit_code([ok("a", "x"), skip("b", "could not check")]) == 1
    assert runner.exit_code([warn("b", "y"), fail("c", "z")]) == 2


def test_text_output_one_line_per_check_and_its_fix() -> None:
    out = io.StringIO()
    runner.write_text([ok("policy", "parses"), fail("milter socket", "no socket", "systemctl start x")], out)
    assert out.getvalue().splitlines() == [
        "ok    policy         parses",
        "fail  milter socket  no socket",
        "                     fix: systemctl start x",
        "doctor: 1 ok, 0 warning(s), 1 failure(s), 0 not checked",
    ]


def test_state_files_an_earlier_root_run_left_fail_the_store_line() -> None:
    """The daemon runs as its own user; a store (and its WAL files) made by root blocks it."""
    import shutil
    import sqlite3

    from privacy_milter import policy as policy_mod
    from privacy_milter.doctor import store_checks
    from privacy_milter.store.base import AddressHasher
    from privacy_milter.store.schema import KEY_NAME, PUT_META
    from tests.harness.fixtures import harness_dir

    nobody = pwd.getpwnam("nobody")
    root = harness_dir("doctor-state")
    try:
        state = root / "state"
        state.mkdir()
        key = state / "address.key"
        key.write_bytes(b"k" * 32)
        os.chmod(key, 0o600)
        db = sqlite3.connect(state / "meta.db")
        db.execute("CREATE TABLE store_meta (name TEXT PRIMARY KEY, value TEXT)")
        db.execute(PUT_META, (KEY_NAME, AddressHasher(b"k" * 32).fingerprint()))
        db.commit()
        db.close()
        policy = policy_mod.parse(f'[store]\npath = "{state}/meta.db"\nkey_file = "{key}"\n')
        setup = Setup(Path("policy.toml"), policy, None, daemon_user="nobody")

        store, addr_key = store_checks.check(setup)  # everything root's: the daemon user is blocked
        assert store.status is Status.FAIL, store
        assert store.text.startswith(f"the daemon user nobody cannot write {state} (root:root, mode 0755), "
                                     f"{state}/meta.db (root:root, mode 0644)"), store.text
        assert store.fix == f"chown -R nobody: {state}"
        assert addr_key.status is Status.FAIL and "belongs to root:root, not the daemon user nobody" in addr_key.text

        for path in state.iterdir():
            os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chown(state, nobody.pw_uid, nobody.pw_gid)
        store, addr_key = store_checks.check(setup)
        assert (store.status, addr_key.status) == (Status.OK, Status.OK), (store, addr_key)
        assert addr_key.text.endswith("matches the store's fingerprint")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_an_unknown_daemon_user_is_said(tmp_path: Path) -> None:
    from privacy_milter.doctor import diagnose

    policy = tmp_path / "policy.toml"
    policy.write_text("[pipeline]\nfilters = []\n[tls_policy]\nenabled = false\n")  # no resolver probe
    found = diagnose(policy, tmp_path / "no-postfix", user="no-such-user-here")
    assert found[1].check == "daemon user" and found[1].status is Status.WARN
    assert found[1].text == "--user no-such-user-here: no such user on this host; ownership is not checked"
