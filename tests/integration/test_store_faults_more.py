"""Store faults while mail flows (issue 13), with the real daemon behind a real Postfix: a
full disk (a 512 KiB tmpfs this test mounts), the database locked by another process
(`BEGIN EXCLUSIVE` held by a helper), the store file deleted under the daemon. Each time:
every message is answered and delivered, the failure is logged once when it starts and once
when it ends, `privacy-milter stats` shows it, and the records are written once the cause goes."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.harness import smtp
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink
from tests.harness.builders import LOOPBACK_POLICY as POLICY, numbered_message as message

pytestmark = pytest.mark.postfix

FAILED = "records are kept in memory"
RECOVERED = r"store: writing again after \d+s of failure: (\d+) record"


@pytest.fixture
def root():
    path = harness_dir("store-faults-more")
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Rig:
    def __init__(self, root: Path, store_dir: Path) -> None:
        self.sink = Sink().start()
        self.milter = MilterProcess(root / "milter", POLICY, store_path=store_dir / "meta.db",
                                    key_path=root / "key" / "address.key")
        self.milter.start()
        self.postfix = PostfixInstance(root / "postfix", relay_port=self.sink.port, milter=self.milter.spec).start()
        self.sent = 0

    def send(self, n: int) -> list[str]:
        """n messages, each answered 250 (the client would fail on anything else) and delivered."""
        ids = []
        for _ in range(n):
            self.sent += 1
            qid = smtp.send(self.postfix.smtpd_port, message(self.sent), "alice@shop.example", ["bob@far.example"])
            assert "action=accept" in self.milter.message_line(qid)
            ids.append(qid)
        self.sink.wait_for(self.sent, timeout=30)
        return ids

    def count(self, text: str) -> int:
        return self.milter.log().count(text)

    def close(self) -> None:
        self.postfix.stop()
        self.milter.stop()
        self.sink.stop()


def wait_stale_stats(rig: Rig) -> str:
    """`stats` while writes fail: the health row cannot be updated either, so stats says the
    report is stale and the daemon cannot write (after health.STALE_AFTER, 30 s)."""
    deadline = time.monotonic() + 60
    out = ""
    while time.monotonic() < deadline:
        out = rig.milter.cli("stats").stdout
        if "cannot write" in out:
            return out
        time.sleep(1)
    raise AssertionError(f"stats never said the store cannot be written:\n{out}")


def test_disk_full_then_space_again(root):
    store_dir = root / "tmpfs"
    store_dir.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0755", "tmpfs", str(store_dir)], check=True)
    rig = None
    try:
        rig = Rig(root, store_dir)
        rig.send(1)
        rig.milter.wait_for_records(1)
        filler = store_dir / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:  # fill the file system to the last byte
            for _ in range(10_000):
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        assert shutil.disk_usage(store_dir).free < 4096
        rig.send(30)  # the WAL must grow: writes fail with "database or disk is full"
        rig.milter.wait_for_log(FAILED, timeout=20)
        assert "disk is full" in rig.milter.log() or "No space left" in rig.milter.log()
        assert "cannot write" in wait_stale_stats(rig)
        rig.send(3)  # still flowing
        assert rig.count(FAILED) == 1, "the failure is logged once, the retries only at debug level"
        filler.unlink()  # the cause goes
        m = rig.milter.wait_for_log(RECOVERED, timeout=60)
        stats = rig.milter.wait_for_records(34, timeout=20)
        assert stats["messages"] == 34 and stats["store"]["pending"] == 0
        assert stats["store"]["failing_since"] is None and int(m.group(1)) >= 1
        assert rig.count("store: writing again") == 1
    finally:
        if rig is not None:
            rig.close()
        subprocess.run(["umount", "-l", str(store_dir)], check=False)


LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.read()
db.execute("ROLLBACK")
"""


def test_database_locked_by_another_process(root):
    rig = Rig(root, root / "store")
    locker = None
    try:
        rig.send(1)
        rig.milter.wait_for_records(1)
        locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(rig.milter.store_path)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        rig.send(5)
        rig.milter.wait_for_log(FAILED, timeout=30)
        assert "database is locked" in rig.milter.log()
        out = rig.milter.cli("stats")  # stats cannot read it either, and says why
        assert out.returncode != 0 and "database is locked" in out.stderr, out
        rig.send(3)
        assert rig.count(FAILED) == 1
        assert locker.stdin is not None
        locker.stdin.close()  # the other process lets go
        locker.wait(10)
        rig.milter.wait_for_log(RECOVERED, timeout=60)
        stats = rig.milter.wait_for_records(9, timeout=20)
        assert stats["messages"] == 9 and stats["store"]["failing_since"] is None
    finally:
        if locker is not None and locker.poll() is None:
            locker.kill()
            locker.wait(10)
        rig.close()


def test_store_file_deleted_under_the_daemon(root):
    rig = Rig(root, root / "store")
    try:
        rig.send(2)
        rig.milter.wait_for_records(2)
        store = rig.milter.store_path
        store.unlink()  # an admin's rm, or a clean-up job gone wrong
        ids = rig.send(4)
        # The daemon notices, logs it once, and writes to a new file at the same path.
        rig.milter.wait_for_log(r"deleted or replaced", timeout=20)
        rig.milter.wait_for_log(RECOVERED, timeout=30)
        stats = rig.milter.wait_for_records(4, timeout=20)
        assert store.exists() and stats["store"]["failing_since"] is None
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            stored = {r[0] for r in db.execute("SELECT queue_id FROM messages")}
        assert set(ids) <= stored, "the records after the deletion are in the new file"
        assert rig.count(FAILED) == 1
        assert "store: 0 pending, last write" in rig.milter.cli("stats").stdout
    finally:
        rig.close()
