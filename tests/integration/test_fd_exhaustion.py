"""More idle connections than descriptors (issue 23 item 10), against the real daemon.

Seen on a host: 4,200 idle connections to the milter socket under LimitNOFILE=4096 filled
the descriptor table; the connection watch then failed every second (EMFILE listing
/proc/self/fd), evicted nothing, and real mail stalled until the clients left. Here the
daemon gets a limit of 128 (prlimit on the running process, as systemd's LimitNOFILE would
set it), 300 idle clients connect, and five real messages go through the throwaway Postfix.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from email.message import EmailMessage

import pytest

from tests.harness import smtp

pytestmark = pytest.mark.postfix

LIMIT = 128
FLOOD = 300
MESSAGES = 5
DELIVERY_BOUND = 45.0  # Postfix gives up on a silent milter after 30 s (milter_command_timeout)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def flood(path: str, count: int) -> list[socket.socket]:
    """`count` idle clients that connect and never send a byte (what a hostile or broken
    local client does); a connect that waits more than a second is left out."""
    out: list[socket.socket] = []
    for _ in range(count):
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(1.0)
        try:
            c.connect(path)
        except OSError:
            c.close()
            continue
        out.append(c)
    return out


def message(i: int) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "alice@shop.example", "bob@far.example", f"fd {i}"
    m.set_content(f"fd-exhaustion message {i}\n")
    return m.as_bytes()


def test_more_idle_connections_than_descriptors_do_not_stall_mail(milter_factory, postfix_factory, sink):
    milter = milter_factory()
    assert milter.proc is not None
    pid = milter.proc.pid
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (LIMIT, LIMIT))
    assert open_fds(pid) < LIMIT // 2, "the daemon's own descriptors leave no room for the test"
    pf = postfix_factory(relay_port=sink.port, milter=milter.spec)
    idle = flood(str(milter.socket_path), FLOOD)
    try:
        assert len(idle) > LIMIT, f"only {len(idle)} clients could connect"
        errors: list[BaseException] = []

        def send(i: int) -> None:
            try:
                smtp.send(pf.smtpd_port, message(i), "alice@shop.example", ["bob@far.example"])
            except BaseException as exc:  # reported below, with the others
                errors.append(exc)

        started = time.monotonic()
        senders = [threading.Thread(target=send, args=(i,)) for i in range(MESSAGES)]
        for t in senders:
            t.start()
        for t in senders:
            t.join(DELIVERY_BOUND + 30)
        assert not errors, errors
        got = sink.wait_for(MESSAGES, timeout=max(1.0, DELIVERY_BOUND - (time.monotonic() - started)))
        elapsed = time.monotonic() - started
        print(f"delivered {len(got)} in {elapsed:.1f}s")
        assert len(got) == MESSAGES and elapsed < DELIVERY_BOUND, elapsed
        assert all(b"X-Privacy" in m.raw or b"fd-exhaustion message" in m.raw for m in got)
        milter.wait_for_log(r"the reserve is free again", 30)
    finally:
        for c in idle:
            c.close()
    log = milter.log()
    assert log.count("closing the longest-idle milter connections") == 1, log[-3000:]
    assert "Too many open files" not in log and "Traceback" not in log, log[-3000:]
    assert "sweep failed" not in log
    assert milter.alive()
