"""Peers that fail the way real ones do: a TCP (or UDP) server on loopback that accepts and
never answers, and a port where nothing listens (connection refused)."""

from __future__ import annotations

import socket
import threading

from .ports import free_port


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and holds them, reading nothing back and
    answering nothing, until `release()` (closes them) or `stop()`."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, *, udp: bool = False) -> None:
        """With `udp=True` a UDP socket on the same port takes datagrams and answers none
        (a DNS server that has gone silent, over both transports)."""
        self.host = host
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port or 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._udp: socket.socket | None = None
        if udp:
            self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._udp.bind((host, self.port))
        self._held: list[socket.socket] = []
        self._cond = threading.Condition()
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> "SilentServer":
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            with self._cond:
                self._held.append(conn)
                self.accepted += 1
                self._cond.notify_all()

    def wait_accepted(self, n: int, timeout: float = 20.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.accepted >= n, timeout)

    def held(self) -> int:
        with self._cond:
            return len(self._held)

    def release(self) -> None:
        """Close every held connection: the peer sees EOF."""
        with self._cond:
            held, self._held = self._held, []
        for c in held:
            c.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.release()
        self._sock.close()
        if self._udp is not None:
            self._udp.close()

    def __enter__(self) -> "SilentServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def refused_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on (free at the time of asking): connecting is refused."""
    return free_port(host)
