"""The connection watch on real unix sockets, with a hand-driven clock."""

import os
import socket

from privacy_milter.connwatch import ConnectionWatch, socket_inode


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def listening(tmp_path):
    path = str(tmp_path / "m.sock")
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen(8)
    return path, server


def eof(sock):
    sock.settimeout(1)
    try:
        return sock.recv(10) == b""
    except OSError:
        return True


def test_idle_connection_is_shut_down_but_a_busy_one_is_not(tmp_path):
    path, server = listening(tmp_path)
    clock = Clock()
    watch = ConnectionWatch(f"unix:{path}", 30, 100, clock=clock)
    idle_client, busy_client = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    idle_client.connect(path)
    busy_client.connect(path)
    idle_side, _ = server.accept()
    busy_side, _ = server.accept()
    busy = socket_inode(busy_side.fileno())
    other = socket.socket(socket.AF_UNIX)  # not a milter connection: never touched
    other.bind(str(tmp_path / "other.sock"))
    try:
        assert watch.sweep() == 0
        assert watch.open_connections == 2
        watch.enter(busy)  # e.g. end of message running past the timeout
        clock.now += 31
        assert watch.sweep() == 1
        assert eof(idle_client)
        busy_client.settimeout(0.2)
        try:
            busy_client.recv(10)
            raise AssertionError("busy connection was shut down")
        except TimeoutError:
            pass
        watch.leave(busy)
        clock.now += 31
        assert watch.sweep() == 1
        assert eof(busy_client)
        os.fstat(other.fileno())  # still open
    finally:
        for s in (idle_client, busy_client, idle_side, busy_side, other, server):
            s.close()


def test_cap_state_changes_once_each_way(tmp_path, caplog):
    path, server = listening(tmp_path)
    watch = ConnectionWatch(f"unix:{path}", 30, 1, clock=Clock())
    clients = [socket.socket(socket.AF_UNIX) for _ in range(3)]
    for c in clients:
        c.connect(path)
    sides = [server.accept()[0] for _ in clients]
    try:
        watch.sweep()
        watch.sweep()
        assert watch.over_cap
        for s in sides[1:]:
            s.close()
        watch.sweep()
        assert not watch.over_cap
        text = caplog.text
        assert text.count("open, over [milter] max_connections = 1") == 1
        assert text.count("back under") == 1
    finally:
        for s in clients + sides[:1] + [server]:
            s.close()


def test_over_the_cap_the_longest_silent_connections_are_closed_first(tmp_path):
    path, server = listening(tmp_path)
    clock = Clock()
    watch = ConnectionWatch(f"unix:{path}", 330, 2, clock=clock)
    clients, sides = [], []
    for _ in range(4):
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)
        side, _ = server.accept()
        clients.append(c)
        sides.append(side)
    inodes = [socket_inode(s.fileno()) for s in sides]
    watch.sweep()  # first sight of all four
    for i, inode in enumerate(inodes):  # last commands at 1000, 1001, 1002, 1003
        clock.now = 1000.0 + i
        watch.enter(inode)
        watch.leave(inode)
    clock.now = 1010.0
    watch.sweep()
    assert [eof(c) for c in clients[:2]] == [True, True]  # the two longest silent went
    for c in clients[2:]:
        c.settimeout(0.2)
        try:
            assert c.recv(10) != b""
        except TimeoutError:
            pass  # still open: nothing to read and no EOF
    assert watch.over_cap is False
    for s in clients + sides + [server]:
        s.close()


def test_a_connection_that_keeps_sending_headers_is_not_idle(tmp_path):
    path, server = listening(tmp_path)
    clock = Clock()
    watch = ConnectionWatch(f"unix:{path}", 30, 100, clock=clock)
    client = socket.socket(socket.AF_UNIX)
    client.connect(path)
    side, _ = server.accept()
    inode = socket_inode(side.fileno())
    try:
        watch.enter(inode)  # MAIL FROM
        watch.leave(inode)
        for _ in range(4):  # a header or body chunk every 20 s: 80 s in all, never 30 s silent
            clock.now += 20
            watch.enter(inode)  # every step goes through the wiring's call (daemon.py)
            watch.leave(inode)
            assert watch.sweep() == 0
        clock.now += 31  # then silence past the timeout
        assert watch.sweep() == 1
        assert eof(client)
    finally:
        for s in (client, side, server):
            s.close()


# --- a full descriptor table (issue 23 item 10) ---------------------------------------------

import contextlib  # noqa: E402
import errno  # noqa: E402
import logging  # noqa: E402
import resource  # noqa: E402

import pytest  # noqa: E402

from privacy_milter.connwatch import PRESSURE_IDLE, fd_reserve  # noqa: E402
from privacy_milter.fdtable import FdTable  # noqa: E402


@contextlib.contextmanager
def low_fd_limit(headroom: int):
    """The soft RLIMIT_NOFILE set to what is open now plus `headroom`, restored after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (len(os.listdir("/proc/self/fd")) + headroom, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def fill_table(path, server, bound=2000):
    """Connect and accept until the table is full: (clients, server sides)."""
    clients, sides = [], []
    for _ in range(bound):
        try:
            c = socket.socket(socket.AF_UNIX)
        except OSError as exc:
            assert exc.errno == errno.EMFILE
            break
        c.connect(path)
        clients.append(c)
        try:
            sides.append(server.accept()[0])
        except OSError as exc:
            assert exc.errno == errno.EMFILE
            break
    return clients, sides


def test_fd_table_lists_what_listdir_does():
    table = FdTable()
    try:
        listed = set(table.list())
        seen = {int(n) for n in os.listdir("/proc/self/fd")}
        r, w = os.pipe()
        assert {r, w} <= set(table.list())  # a fresh listing each call, not a cached one
        os.close(r), os.close(w)
        assert listed <= seen and len(seen - listed) <= 2  # listdir's own and the table's
    finally:
        table.close()


def test_a_full_table_is_seen_and_the_longest_silent_connections_are_closed(tmp_path, caplog):
    # Before: the sweep listed /proc/self/fd with a new descriptor and failed with EMFILE
    # every second while the table was full; nothing was evicted and mail stalled.
    caplog.set_level(logging.WARNING, logger="privacy_milter")
    path, server = listening(tmp_path)
    server.listen(4096)
    clock = Clock()
    watch = ConnectionWatch(f"unix:{path}", 330, 100000, clock=clock)  # the cap plays no part
    clients: list[socket.socket] = []
    sides: list[socket.socket] = []
    try:
        with low_fd_limit(60):
            clients, sides = fill_table(path, server)
            with pytest.raises(OSError) as full:
                os.listdir("/proc/self/fd")
            assert full.value.errno == errno.EMFILE
            watch.sweep()  # first sight of every connection
            clock.now += PRESSURE_IDLE + 1
            watch.sweep()
            assert watch.fd_pressure
            # libmilter's part: a shut-down session reads EOF and closes its descriptor
            shut = [i for i, s in enumerate(sides) if eof_now(s)]
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
            assert len(shut) >= fd_reserve(soft)
            assert all(eof(clients[i]) for i in shut)
            for i in shut:  # both ends: the client side stands for Postfix, another process
                sides[i].close()
                clients[i].close()
            os.listdir("/proc/self/fd")  # room again
            clock.now += 1
            watch.sweep()
            assert not watch.fd_pressure
    finally:
        for s in clients + sides + [server]:
            s.close()
        watch.close()
    text = caplog.text
    assert text.count("closing the longest-idle milter connections") == 1
    assert text.count("the reserve is free again") == 1
    assert "Too many open files" not in text


def eof_now(sock):
    sock.setblocking(False)
    try:
        return sock.recv(10) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_a_failing_sweep_is_logged_once_until_it_works_again(tmp_path, caplog, monkeypatch):
    path, server = listening(tmp_path)
    watch = ConnectionWatch(f"unix:{path}", 30, 100, clock=Clock())
    calls = {"n": 0}

    def sweep():
        calls["n"] += 1
        if calls["n"] <= 5:
            raise OSError(errno.EMFILE, "Too many open files")
        return 0

    monkeypatch.setattr(watch, "sweep", sweep)
    for _ in range(7):
        watch.sweep_once()
    assert caplog.text.count("sweep failed") == 1
    assert caplog.text.count("sweeps work again after 5 failed") == 1
    server.close()
    watch.close()


# --- context_fd: libmilter's SMFICTX read by byte offset ------------------------------------------

def test_context_fd_finds_the_connections_own_socket_in_the_real_libmilter():
    """connwatch.context_fd reads ctx_sd out of libmilter's C struct at a fixed offset. A
    pymilter milter in a subprocess (tests/harness/ctxfd_milter.py) answers MAIL with the
    descriptor it read and that socket's peer port, as the kernel tells it: it must be this
    client's own port. A libmilter or pymilter whose layout moved fails here, either
    with `fd=none` (the read's own checks refused it) or with another socket's peer."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.harness.ports import free_port
    from tests.harness.rawmilter import RawMilter

    port, timeout = free_port(), 37  # an unusual timeout: context_fd checks ctx_timeout against it
    script = Path(__file__).resolve().parents[1] / "harness" / "ctxfd_milter.py"
    proc = subprocess.Popen([sys.executable, str(script), f"inet:{port}@127.0.0.1", str(timeout)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:  # ready when the port accepts (bounded)
            assert proc.poll() is None, proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the probe milter never listened"
                time.sleep(0.05)
        for _ in range(3):  # several connections: each finds its own socket, not the last one's
            m = RawMilter(f"inet:{port}@127.0.0.1", timeout=10)
            try:
                m.negotiate()
                m.send(b"M", b"<a@shop.example>\0")
                code, data = m.read()
                mine = m.sock.getsockname()[1]
            finally:
                m.close()
            assert code == b"y", (code, data)
            text = data.rstrip(b"\0").decode()
            assert "fd=none" not in text, f"context_fd refused the read: {text}"
            assert text.endswith(f"peer={mine}"), (text, mine)
    finally:
        proc.kill()  # it keeps no state; libmilter's clean stop takes seconds
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()
