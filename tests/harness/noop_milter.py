"""A do-nothing pymilter milter: the baseline for the throughput benchmark.

    python tests/harness/noop_milter.py unix:/path/to/sock

It overrides no callback, so every optional step keeps pymilter's @nocallback mark and is
negotiated away: Postfix sends only what the protocol cannot skip (negotiation, macros,
end of message) and the milter asks for no modification actions. `NoopMilterProcess` starts
it from tests and benchmarks; readiness is a connect() on its socket.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

START_TIMEOUT = 15.0


class NoopMilterProcess:
    """The script in a subprocess on a unix socket Postfix (user postfix) can reach."""

    def __init__(self, socket_path: Path | str, python: str = sys.executable) -> None:
        self.socket_path = Path(socket_path)
        self.python = python
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        return f"unix:{self.socket_path}"

    def start(self) -> "NoopMilterProcess":
        if self.socket_path.exists():
            self.socket_path.unlink()  # libmilter will not bind over a stale file
        self.proc = subprocess.Popen([self.python, str(Path(__file__).resolve()), self.spec],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        from tests.harness.smtp import wait_for_unix_socket  # this file also runs as a script

        if wait_for_unix_socket(self.socket_path, self.proc, START_TIMEOUT):
            return self
        if self.proc.poll() is not None:
            out = self.proc.stdout.read().decode(errors="replace") if self.proc.stdout else ""
            self.proc = None
            raise RuntimeError(f"noop milter exited during start-up:\n{out}")
        self.stop()
        raise RuntimeError(f"noop milter: no socket at {self.socket_path} within {START_TIMEOUT}s")

    def stop(self, timeout: float = 1.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`: libmilter's clean stop can take ~5 s (its
        listener polls), and a milter that keeps no state needs no clean stop."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc.stdout:
            proc.stdout.close()
        if self.socket_path.exists():
            self.socket_path.unlink()

    def __enter__(self) -> "NoopMilterProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} unix:/path/to/socket | inet:PORT@HOST", file=sys.stderr)
        return 2
    import Milter  # pymilter; imported here so the helper class above needs no libmilter

    class NoopMilter(Milter.Base):
        """No overrides: every optional callback is negotiated away; eom answers CONTINUE."""

    spec = argv[1]
    if spec.startswith("unix:"):
        path = Path(spec[5:])
        if path.exists():
            path.unlink()
    os.umask(0)  # the socket must be writable by user postfix
    Milter.factory = NoopMilter
    Milter.set_flags(0)  # no modification actions requested
    Milter.runmilter("noop-milter", spec, timeout=600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
