"""Free loopback ports, picked at run time.

The kernel hands out an unused port when binding to port 0; the socket is closed again
so the server under test can bind it. A process-wide set keeps one run from handing the
same port out twice (two fixtures asking before either server has bound).
"""

from __future__ import annotations

import socket
import threading

_lock = threading.Lock()
_given: set[tuple[str, int]] = set()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that nothing listens on now and this process has not handed out yet."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = s.getsockname()[1]
        with _lock:
            if (host, port) not in _given:
                _given.add((host, port))
                return port
    raise RuntimeError(f"no free port found on {host} after 50 tries")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    return [free_port(host) for _ in range(count)]
