"""A do-nothing pymilter milter: the baseline for the throughput benchmark.

    python tests/harness/noop_milter.py unix:/path/to/sock            # everything negotiated away
    python tests/harness/noop_milter.py --listen unix:/path/to/sock   # receives what we receive

By default it overrides no callback, so every optional step keeps pymilter's @nocallback
mark and is negotiated away: Postfix sends only what the protocol cannot skip (negotiation,
macros, end of message) and the milter asks for no modification actions. With --listen it
asks for exactly the steps privacy-milter's adapter asks for (sender, recipients, each
header with its leading space, the body, end of message), each a Python callback that does
nothing (no reply where the adapter sends none), and accepts at end of message: the
ceiling pymilter itself sets for a milter that reads the whole message. `NoopMilterProcess` starts
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

    def __init__(self, socket_path: Path | str, python: str = sys.executable, listen: bool = False) -> None:
        self.socket_path = Path(socket_path)
        self.python = python
        self.listen = listen
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        return f"unix:{self.socket_path}"

    def command(self) -> list[str]:
        """The milter's command line (bench/throughput.py's floor milter runs another script)."""
        return [self.python, str(Path(__file__).resolve()), *(["--listen"] if self.listen else []), self.spec]

    def start(self) -> "NoopMilterProcess":
        if self.socket_path.exists():
            self.socket_path.unlink()  # libmilter will not bind over a stale file
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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
    listen = "--listen" in argv[1:]
    args = [a for a in argv[1:] if a != "--listen"]
    if len(args) != 1:
        print(f"usage: {argv[0]} [--listen] unix:/path/to/socket | inet:PORT@HOST", file=sys.stderr)
        return 2
    import Milter  # pymilter; imported here so the helper class above needs no libmilter

    class NoopMilter(Milter.Base):
        """No overrides: every optional callback is negotiated away; eom answers CONTINUE."""

    @Milter.header_leading_space
    class ListeningMilter(Milter.Base):
        """The callbacks privacy-milter's adapter uses, each doing nothing."""

        @Milter.noreply
        def envfrom(self, mail_from: str, *params: str) -> int:
            return Milter.CONTINUE

        @Milter.noreply
        def envrcpt(self, to: str, *params: str) -> int:
            return Milter.CONTINUE

        @Milter.noreply
        def header(self, name: str, value: str) -> int:
            return Milter.CONTINUE

        @Milter.noreply
        def body(self, chunk: bytes) -> int:
            return Milter.CONTINUE

        def eom(self) -> int:
            return Milter.ACCEPT

    spec = args[0]
    if spec.startswith("unix:"):
        path = Path(spec[5:])
        if path.exists():
            path.unlink()
    os.umask(0)  # the socket must be writable by user postfix
    Milter.factory = ListeningMilter if listen else NoopMilter
    # --listen asks for the modification actions privacy-milter asks for; plain asks for none
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.QUARANTINE if listen else 0)
    Milter.runmilter("noop-milter", spec, timeout=600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))


FLOOR_MILTER = Path(__file__).resolve().parents[2] / "bench" / "floor_milter.py"


class FloorMilterProcess(NoopMilterProcess):
    """bench/floor_milter.py: pymilter plus the DLP scan (and a DKIM signature with `key`):
    the throughput floor (bench/throughput.py, tests/integration/test_bench_floor.py)."""

    def __init__(self, socket_path: Path, key: Path | None = None) -> None:
        super().__init__(socket_path)
        self.key = key

    def command(self) -> list[str]:
        work = ["--work", "dlp,dkim", "--key", str(self.key)] if self.key is not None else ["--work", "dlp"]
        return [self.python, str(FLOOR_MILTER), *work, self.spec]


def floor_key(workdir: Path) -> Path:
    """A fresh 2048-bit RSA key for shop.example (the benchmark messages' From), mode 0600."""
    from privacy_filters.dkim.keys import keygen

    path, _ = keygen("shop.example", "b2025", "rsa-sha256", workdir)
    return path
