"""A local unprivileged user (here: nobody) can neither talk to the daemon's sockets nor
read what it stores: the milter and TLS policy sockets, the store, its WAL and the address
key, with the modes the shipped policy uses (issue 13, security)."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.harness.milter_process import MilterProcess
from tests.harness import rawmilter

PROBE = r"""
import socket, sys
kind, path = sys.argv[1], sys.argv[2]
try:
    if kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
    else:
        open(path, "rb").read(1)
except PermissionError:
    print("denied")
except OSError as exc:
    print("error", exc.errno)
else:
    print("allowed")
"""


def as_nobody(kind: str, path: Path) -> str:
    return subprocess.run(["runuser", "-u", "nobody", "--", sys.executable, "-c", PROBE, kind, str(path)],
                          capture_output=True, text=True, timeout=30).stdout.strip()


@pytest.fixture
def daemon():
    if os.geteuid() != 0 or shutil.which("runuser") is None:
        pytest.skip("needs root and runuser to act as an unprivileged user")
    pwd.getpwnam("nobody")
    root = Path(tempfile.mkdtemp(prefix="pm-perm-"))
    os.chmod(root, 0o755)  # as a real deployment's parents: everyone may traverse
    m = MilterProcess(root / "m", "", "enabled = true")
    m.policy_path.write_text(
        f'[milter]\nsocket = "unix:{m.socket_path}"\n'            # default socket_mode 0660
        f'[store]\npath = "{m.store_path}"\nkey_file = "{m.key_path}"\nflush_interval = 0.05\n'
        f'[tls_policy]\nsocket = "{m.tls_socket_path}"\nprobe = false\n')  # default 0660 too
    for d in (m.base, m.sock_dir):
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
    m.start()
    yield m
    m.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_an_unprivileged_user_can_reach_nothing_the_daemon_holds(daemon: MilterProcess) -> None:
    # a message, so that the store, its WAL and the key exist with content
    assert rawmilter.message(daemon.socket_path, [(b"Subject", b"hi")], queue_id="PERM1", timeout=5) == b"a"
    daemon.wait_for_records(1)
    wal = daemon.store_path.with_name(daemon.store_path.name + "-wal")
    targets = {"socket": [daemon.socket_path, daemon.tls_socket_path],
               "file": [daemon.store_path, daemon.key_path] + ([wal] if wal.exists() else [])}
    for kind, paths in targets.items():
        for path in paths:
            assert path.exists(), path
            assert as_nobody(kind, path) == "denied", path
    assert as_nobody("file", daemon.policy_path) == "allowed"  # the probe itself works
    for path in targets["file"]:
        assert (path.stat().st_mode & 0o077) == 0, path  # no group or other bits at all
