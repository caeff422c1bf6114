"""Real scanning engines on loopback: Debian's clamd and spamd, started and stopped by tests.

No freshclam and no network: clamd loads a signature file written here (the MD5 of the
68-byte EICAR string), spamd runs Debian's rules with network tests off (`--local`).
Readiness is a PING answered over each engine's own protocol, never a sleep. A missing
binary is an error, not a skip: the Makefile installs both.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

from .ports import free_port

CLAMD = "/usr/sbin/clamd"
SPAMD = "/usr/sbin/spamd"

# The standard anti-virus test file, 68 bytes; split so that no scanner flags this source.
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$" + b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")
EICAR_SIGNATURE = "Eicar-Test-Signature"
# SpamAssassin's test string: scores about 1000.
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*" + b"GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

_live: set["_Engine"] = set()
_live_lock = threading.Lock()


@atexit.register
def _stop_all_at_exit() -> None:
    with _live_lock:
        left = list(_live)
    for engine in left:
        try:
            engine.stop()
        except Exception:  # best effort at exit
            pass


class EngineError(RuntimeError):
    """An engine failed to start or answer; the message carries its log tail."""


class _Engine:
    """A daemon in its own process group (its children die with it), with a log file."""

    name = "engine"
    start_timeout = 60.0

    def __init__(self, base_dir: Path | str) -> None:
        self.base_dir = Path(base_dir).resolve()
        self.base_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        self.log_path = self.base_dir / f"{self.name}.log"  # the engine's own log file
        self.out_path = self.base_dir / f"{self.name}.out"  # its stdout and stderr
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    def _argv(self) -> list[str]:
        raise NotImplementedError

    def ping(self, timeout: float = 5.0) -> bool:
        raise NotImplementedError

    def start(self) -> "_Engine":
        binary = self._argv()[0]
        if not os.access(binary, os.X_OK):
            raise EngineError(f"{binary} is missing: install the Debian package (make test does)")
        self._log_file = open(self.out_path, "ab")  # noqa: SIM115 (held open while the engine runs; closed in stop)
        self.proc = subprocess.Popen(self._argv(), stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        with _live_lock:
            _live.add(self)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise EngineError(f"{self.name} exited with {code} during start-up:\n{self.log_tail()}")
            try:
                if self.ping(timeout=2.0):
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        self.stop()
        raise EngineError(f"{self.name} not ready within {self.start_timeout}s:\n{self.log_tail()}")

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout`. Idempotent."""
        with _live_lock:
            _live.discard(self)
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
            # children (spamd's) may outlive the parent for a moment
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    os.killpg(proc.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """The engine's log file followed by its stdout/stderr."""
        parts = []
        for path in (self.log_path, self.out_path):
            try:
                parts.append(path.read_text(errors="replace"))
            except OSError:
                pass
        return "".join(parts)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Clamd(_Engine):
    """clamd in the foreground: `socket_path` (LocalSocket, mode 666) and 127.0.0.1:`port`."""

    name = "clamd"

    def __init__(self, base_dir: Path | str, *, port: int | None = None,
                 stream_max_length: str = "100M") -> None:
        super().__init__(base_dir)
        self.port = port or free_port()
        self.socket_path = self.base_dir / "clamd.sock"
        self.db_dir = self.base_dir / "db"
        self.tmp_dir = self.base_dir / "tmp"
        self.conf_path = self.base_dir / "clamd.conf"
        self.stream_max_length = stream_max_length
        self._write_config()

    def _write_config(self) -> None:
        for d in (self.db_dir, self.tmp_dir):
            d.mkdir(exist_ok=True)
        md5 = hashlib.md5(EICAR).hexdigest()
        (self.db_dir / "harness.hdb").write_text(f"{md5}:{len(EICAR)}:{EICAR_SIGNATURE}\n")
        self.conf_path.write_text("\n".join([
            "Foreground yes",
            f"LocalSocket {self.socket_path}",
            "LocalSocketMode 666",
            f"TCPSocket {self.port}",
            "TCPAddr 127.0.0.1",
            f"DatabaseDirectory {self.db_dir}",
            f"TemporaryDirectory {self.tmp_dir}",
            f"PidFile {self.base_dir / 'clamd.pid'}",
            f"LogFile {self.log_path}",
            "LogTime yes",
            f"StreamMaxLength {self.stream_max_length}",
            "MaxThreads 4",
            "SelfCheck 0",
            "Bytecode no",
        ]) + "\n")
        if self.socket_path.exists():
            self.socket_path.unlink()

    def _argv(self) -> list[str]:
        return [CLAMD, "--foreground", f"--config-file={self.conf_path}"]

    # --- a minimal client (zINSTREAM / zPING), enough to prove the engine -----------------
    def _connect(self, timeout: float, unix: bool) -> socket.socket:
        if unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(timeout)
            s.connect(str(self.socket_path))
            return s
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    @staticmethod
    def _read_reply(s: socket.socket) -> str:
        buf = b""
        while not buf.endswith(b"\0"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        return buf.rstrip(b"\0").decode(errors="replace")

    def ping(self, timeout: float = 5.0, unix: bool = False) -> bool:
        with self._connect(timeout, unix) as s:
            s.sendall(b"zPING\0")
            return self._read_reply(s) == "PONG"

    def instream(self, data: bytes, timeout: float = 30.0, unix: bool = False) -> str:
        """Scan `data`: 'stream: OK' or 'stream: Eicar-Test-Signature FOUND'."""
        with self._connect(timeout, unix) as s:
            s.sendall(b"zINSTREAM\0")
            for i in range(0, len(data), 65536):
                chunk = data[i:i + 65536]
                s.sendall(struct.pack("!L", len(chunk)) + chunk)
            s.sendall(struct.pack("!L", 0))
            return self._read_reply(s)


class Spamd(_Engine):
    """spamd on 127.0.0.1:`port` with Debian's rules, network tests off, two children."""

    name = "spamd"
    start_timeout = 90.0  # compiling the rules takes a few seconds

    def __init__(self, base_dir: Path | str, *, port: int | None = None, max_children: int = 2) -> None:
        super().__init__(base_dir)
        self.port = port or free_port()
        self.max_children = max_children
        self.home = self.base_dir / "home"
        self.home.mkdir(exist_ok=True)
        os.chmod(self.home, 0o777)

    def _argv(self) -> list[str]:
        return [SPAMD, "--listen", f"127.0.0.1:{self.port}", "--max-children", str(self.max_children),
                "--allowed-ips", "127.0.0.1", "--local", "--nouser-config",
                "--username", "nobody", f"--helper-home-dir={self.home}",
                f"--pidfile={self.base_dir / 'spamd.pid'}", f"--syslog={self.log_path}"]

    def _request(self, verb: str, body: bytes = b"", timeout: float = 30.0) -> bytes:
        head = f"{verb} SPAMC/1.5\r\n".encode()
        if verb != "PING":
            head += f"Content-length: {len(body)}\r\n".encode()
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            s.sendall(head + b"\r\n" + body)
            s.shutdown(socket.SHUT_WR)
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out

    def ping(self, timeout: float = 5.0) -> bool:
        return b"PONG" in self._request("PING", timeout=timeout).split(b"\r\n", 1)[0]

    def check(self, raw: bytes, timeout: float = 60.0) -> tuple[bool, float, float]:
        """CHECK a message: (is_spam, score, threshold)."""
        reply = self._request("CHECK", raw, timeout).decode(errors="replace")
        for line in reply.split("\r\n"):
            if line.startswith("Spam:"):
                # "Spam: True ; 1000.0 / 5.0"
                verdict, _, scores = line[5:].partition(";")
                score, _, threshold = scores.partition("/")
                return verdict.strip() == "True", float(score), float(threshold)
        raise EngineError(f"spamd CHECK: no Spam header in {reply[:500]!r}")
