"""Hostile clients on the milter socket and hostile policy files, against the real daemon."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

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
