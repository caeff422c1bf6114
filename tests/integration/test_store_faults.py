"""Store faults with the real daemon and a real Postfix (issue 13, items 4 and 5): a store
that cannot be opened at start-up does not stop mail, and a crash loses at most the records
of the last flush interval."""

from __future__ import annotations

import shutil
import smtplib
import sqlite3
import threading
import time

import pytest

from tests.harness import smtp
from tests.harness.builders import LOOPBACK_POLICY as POLICY, numbered_message as message
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink

pytestmark = pytest.mark.postfix

@pytest.fixture
def root():
    path = harness_dir("store-faults")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_postfix(root, milter, sink) -> PostfixInstance:
    return PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec,
                           mynetworks="127.0.0.1/32").start()


def test_unopenable_store_at_startup_does_not_stop_mail(root):
    # A real fault, not a file mode (root ignores those): the store's directory is a file.
    (root / "key").mkdir(parents=True)
    blocker = root / "store"
    blocker.write_text("not a directory")
    milter = MilterProcess(root / "milter", POLICY, store_path=blocker / "meta.db",
                           key_path=root / "key" / "address.key")
    with Sink() as sink:
        milter.start()  # the daemon starts: before, it refused and Postfix tempfailed everything
        postfix = start_postfix(root, milter, sink)
        try:
            queue_id = smtp.send(postfix.smtpd_port, message(1), "alice@shop.example", ["bob@far.example"])
            assert "action=accept" in milter.message_line(queue_id)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not any(b"message number 1" in m.raw for m in sink.messages):
                time.sleep(0.05)
            assert any(b"message number 1" in m.raw for m in sink.messages)
            milter.wait_for_log(r"store: still failing", timeout=10)  # at least one retry came and went
            opened = [line for line in milter.log().splitlines() if "cannot open the store" in line]
            assert len(opened) >= 2 and sum("records are kept in memory" in line for line in opened) == 1, \
                "the failure is logged once; the retries only at debug level"
            blocker.unlink()  # the cause goes
            milter.wait_for_log(r"store: writing again after \d+s of failure: 1 record", timeout=40)
            stats = milter.wait_for_records(1, timeout=10)
            assert stats["store"]["pending"] == 0 and stats["store"]["failing_since"] is None
            text = milter.cli("stats")
            assert "store: 0 pending, last write" in text.stdout, text.stdout
        finally:
            postfix.stop()
            milter.stop()
    assert "alice@" not in milter.log()


def test_kill_9_loses_at_most_the_last_flush_interval(root):
    flush = 0.2
    slack = 0.5  # one batch write plus scheduling on a loaded 2-core machine
    milter = MilterProcess(root / "milter", '[network]\ntrusted_networks = ["127.0.0.1/32"]\n',
                           flush_interval=flush)
    with Sink() as sink:
        milter.start()
        postfix = start_postfix(root, milter, sink)
        answered: dict[str, float] = {}  # queue id -> when the client had its 250
        lock = threading.Lock()
        stop = threading.Event()

        def client(offset: int) -> None:
            for n in range(offset, offset + 400):
                if stop.is_set():
                    return
                try:
                    qid = smtp.send(postfix.smtpd_port, message(n), "alice@shop.example", ["bob@far.example"])
                except (smtplib.SMTPException, OSError, AssertionError):
                    continue  # tempfailed once the milter is gone
                with lock:
                    answered[qid] = time.time()

        threads = [threading.Thread(target=client, args=(i * 1000,)) for i in range(4)]
        try:
            for t in threads:
                t.start()
            deadline = time.monotonic() + 60
            while len(answered) < 150 and time.monotonic() < deadline:
                time.sleep(0.02)
            milter.kill()
            killed = time.time()
            stop.set()
            for t in threads:
                t.join(60)
        finally:
            stop.set()
            postfix.stop()
            milter.stop()
    with sqlite3.connect(milter.store_path) as db:
        stored = {row[0] for row in db.execute("SELECT queue_id FROM messages")}
    before = {q: t for q, t in answered.items() if t <= killed}
    assert len(before) >= 150
    lost = {q: t for q, t in before.items() if q not in stored}
    print(f"answered before the kill: {len(before)}, lost: {len(lost)}")
    late = {q: round(killed - t, 3) for q, t in lost.items() if t < killed - flush - slack}
    assert not late, f"records lost for messages answered well before the crash: {late}"
    assert len(lost) <= sum(1 for t in before.values() if t >= killed - flush - slack)
