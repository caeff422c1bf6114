"""Hostile clients on the milter socket and hostile policy files, against the real daemon."""

from __future__ import annotations

import os
import signal
import socket
import time
from pathlib import Path


from tests.harness import rawmilter
from tests.harness.rawmilter import RawMilter


def milter_with(milter_factory, settings: str):
    m = milter_factory()
    m.stop()
    text = m.policy_path.read_text().replace('socket_mode = "0666"\n', 'socket_mode = "0666"\n' + settings, 1)
    m.policy_path.write_text(text)
    return m.start()


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except socket.timeout:
            continue
        except OSError:
            return True
    return False


def test_idle_connections_are_closed_within_the_timeout_and_mail_is_served(milter_factory):
    m = milter_with(milter_factory, "timeout = 2\n")
    idle: list[RawMilter] = []
    try:
        for i in range(40):
            c = RawMilter(m.socket_path, timeout=5)
            if i % 2:
                c.negotiate()  # OPTNEG, then nothing
            idle.append(c)
        started = time.monotonic()
        assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="IDLE1") == b"a"
        for c in idle:
            assert closed_by_server(c.sock, 2 + 5 - (time.monotonic() - started)), "idle connection still open"
        m.wait_for_log(r"closed \d+ milter connection\(s\) idle for more than 2s", 5)
        assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="IDLE2") == b"a"
    finally:
        for c in idle:
            c.close()


def test_connection_cap_tempfails_new_messages_and_logs_each_change_once(milter_factory):
    m = milter_with(milter_factory, "max_connections = 5\n")
    idle = [RawMilter(m.socket_path, timeout=5) for _ in range(8)]
    try:
        for c in idle:
            c.negotiate()
        m.wait_for_log(r"over \[milter\] max_connections = 5", 10)
        assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="CAP1") == b"t"
    finally:
        for c in idle:
            c.close()
    m.wait_for_log(r"back under \[milter\] max_connections = 5", 10)
    assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="CAP2") == b"a"
    assert m.log().count("open, over [milter] max_connections") == 1


def test_header_name_with_byte_0xff_still_gets_an_answer(milter_factory):
    m = milter_factory()
    reply = rawmilter.message(m.socket_path, [(b"Subject", b"hi"), (b"X-\xffbad", b"v\xff")],
                              queue_id="FF1", timeout=10)
    assert reply in (b"a", b"t")
    m.wait_for_log("not UTF-8 was skipped", 5)
    assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="FF2") == b"a"


def test_fifo_and_huge_policy_files_do_not_stall_mail(milter_factory):
    m = milter_factory()
    saved = m.policy_path.read_text()
    m.policy_path.unlink()
    os.mkfifo(m.policy_path)
    try:
        m.proc.send_signal(signal.SIGUSR1)
        m.wait_for_log(r"(?s)policy reload \(SIGUSR1\) refused.*not a regular file", 10)
        assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="FIFO1", timeout=5) == b"a"
    finally:
        m.policy_path.unlink()
    m.policy_path.write_text(saved + "#" * (21 * 1024 * 1024))
    m.proc.send_signal(signal.SIGUSR1)
    m.wait_for_log(r"(?s)refused[^\n]*\n[^\n]*over the limit of 1048576 bytes", 10)
    assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="BIG1", timeout=5) == b"a"
    m.policy_path.write_text(saved)
    m.proc.send_signal(signal.SIGUSR1)
    m.wait_for_log(r"policy reloaded \(SIGUSR1\)", 10)


def test_a_storm_of_100_sigusr1_is_a_few_reloads_and_mail_keeps_flowing(milter_factory):
    m = milter_factory()
    for _ in range(100):
        m.proc.send_signal(signal.SIGUSR1)
        time.sleep(0.01)
    assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="STORM1", timeout=5) == b"a"
    m.wait_for_log(r"merged into one reload", 10)
    time.sleep(2.5)  # let the last merged reload happen
    assert m.alive()
    reloads = m.log().count("policy reloaded (SIGUSR1)")
    assert 1 <= reloads <= 5, reloads
    assert rawmilter.message(m.socket_path, [(b"Subject", b"hi")], queue_id="STORM2", timeout=5) == b"a"


def test_the_reload_signal_is_caught_so_no_thread_can_die_of_it(milter_factory):
    """A thread that leaves SIGUSR1 unblocked (libmilter's signal thread sets a mask of its
    own; a native library's pool may start at import) would let a reload kill the daemon
    under a sigwait-only design. SIGUSR1 has a handler: whichever thread takes it, the
    process lives and the policy is reloaded."""
    m = milter_factory()
    status = Path(f"/proc/{m.proc.pid}/status").read_text()
    caught = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:")), 16)
    assert caught & (1 << (signal.SIGUSR1 - 1))
    for _ in range(5):
        os.kill(m.proc.pid, signal.SIGUSR1)
        time.sleep(0.3)
    m.wait_for_log(r"policy reloaded \(SIGUSR1\)", 10)
    assert m.alive()
