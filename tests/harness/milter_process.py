"""The real daemon as a subprocess: `privacy-milter run` with a policy written by the test,
or with a given policy file whose socket and store are overridden (the benchmarks). The one
launcher of the daemon for tests and bench/."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.harness.smtp import wait_for_unix_socket

VENV_BIN = Path(sys.executable).parent
START_TIMEOUT = 20.0


class MilterProcess:
    """privacy-milter run, started and stopped by a test; readiness = the 'ready' log line."""

    def __init__(self, base: Path, policy_text: str, tls_policy: str = "enabled = false", *,
                 store_path: Path | None = None, key_path: Path | None = None,
                 flush_interval: float = 0.1, env: dict[str, str] | None = None,
                 policy_file: Path | None = None, host_name: str | None = None) -> None:
        self.base = base
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        self.sock_dir = base / "sock"
        self.sock_dir.mkdir(exist_ok=True)
        os.chmod(self.sock_dir, 0o777)  # Postfix runs as user postfix
        self.socket_path = self.sock_dir / "milter.sock"
        self.store_path = store_path or base / "store" / "meta.db"
        self.key_path = key_path or base / "store" / "address.key"
        self.flush_interval = flush_interval
        self.env = env  # extra environment for the daemon (e.g. TMPDIR)
        self.policy_path = policy_file or base / "policy.toml"
        self.log_path = base / "milter.log"
        self.tls_socket_path = self.sock_dir / "tlspolicy.sock"
        self.tls_policy = tls_policy
        # A given file runs as it is, with --socket and --store; its own [log] file, if any,
        # gets the ready line, so readiness is then the socket accepting.
        self.policy_file = policy_file
        self.host_name = host_name  # [store] host_name (--host-name with a given file); None: Postfix's
        if policy_file is None:
            self.write_policy(policy_text)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def spec(self) -> str:
        """The socket as Postfix names it."""
        return f"unix:{self.socket_path}"

    def write_policy(self, extra: str) -> None:
        self.policy_path.write_text(
            f'[milter]\nsocket = "unix:{self.socket_path}"\nsocket_mode = "0666"\n'
            f'[store]\npath = "{self.store_path}"\nkey_file = "{self.key_path}"\n'
            f'flush_interval = {self.flush_interval}\n'
            + (f'host_name = "{self.host_name}"\n' if self.host_name else "") +
            f'[tls_policy]\nsocket = "{self.tls_socket_path}"\nsocket_mode = "0666"\n{self.tls_policy}\n'
            + extra)

    def start(self) -> "MilterProcess":
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (the daemon's stdout until stop())
        args = ["run", "--policy", str(self.policy_path)]
        if self.policy_file is not None:
            args += ["--socket", self.spec, "--store", str(self.store_path)]
            args += ["--host-name", self.host_name] if self.host_name else []
        self.proc = subprocess.Popen([str(VENV_BIN / "privacy-milter"), *args],
                                     stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env={**os.environ, **self.env} if self.env else None)
        if self.policy_file is None:
            self.wait_for_log(r"privacy-milter ready on", START_TIMEOUT, since=offset)
        elif not wait_for_unix_socket(self.socket_path, self.proc, START_TIMEOUT):
            self.stop()
            raise AssertionError(f"privacy-milter: no socket at {self.socket_path} within {START_TIMEOUT}s:\n"
                                 f"{self.log()[-3000:]}")
        return self

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        code, self.proc = self.proc.returncode, None
        return code

    def kill(self) -> None:
        """SIGKILL: a crash, with no chance to write pending records."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float = 10.0, since: int = 0) -> re.Match[str]:
        """The first match of `pattern` in the log after byte `since`."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if m := regex.search(self.log()[since:]):
                return m
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"privacy-milter exited ({self.proc.returncode}):\n{self.log()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"no log line matching {pattern!r} within {timeout}s:\n{self.log()[-3000:]}")

    def message_line(self, queue_id: str, timeout: float = 10.0) -> str:
        return self.wait_for_log(rf"{queue_id}: direction=[^\n]*", timeout).group(0)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VENV_BIN / "privacy-milter"), *args, "--policy", str(self.policy_path)],
                              capture_output=True, text=True, timeout=60)

    def stats(self) -> dict:
        out = self.cli("stats", "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    def wait_for_records(self, count: int, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        stats: dict = {}
        while time.monotonic() < deadline:
            stats = self.stats()
            if stats["messages"] >= count:
                return stats
            time.sleep(0.2)
        raise AssertionError(f"store has {stats.get('messages')} records, expected {count}")
