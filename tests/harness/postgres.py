"""A throwaway PostgreSQL for tests: initdb into a temporary directory as the unprivileged
`postgres` user, listening only on a unix socket in that directory, stopped afterwards.

Authentication is scram-sha-256 with a password kept in a libpq passfile (0600), the way
the docs tell admins to run it: the conninfo the daemon gets never holds the password.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from .ports import free_port

START_TIMEOUT = 30.0
USER = "privacy_milter"
DATABASE = "privacy_milter"


def _bindir() -> Path:
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if not dirs:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql)")
    return Path(dirs[-1])


_running: list["PostgresServer"] = []


@atexit.register
def _stop_all() -> None:
    for server in list(_running):
        server.stop()


class PostgresServer:
    def __init__(self, base_dir: Path | str | None = None, os_user: str = "postgres") -> None:
        # pytest's tmp_path sits under a 0700 root-owned directory the postgres user cannot
        # enter, so by default the server gets a directory of its own under /tmp.
        self.base = Path(base_dir) if base_dir is not None else Path(tempfile.mkdtemp(prefix="pm-pg-"))
        self.data = self.base / "data"
        self.socket_dir = self.base / "sock"
        self.port = free_port()  # only names the socket file: nothing listens on TCP
        self.os_user = os_user
        self.password = secrets.token_urlsafe(18)
        self.passfile = self.base / "pgpass"
        self.bindir = _bindir()

    @property
    def conninfo(self) -> str:
        return f"host={self.socket_dir} port={self.port} dbname={DATABASE} user={USER} passfile={self.passfile}"

    def _as_user(self, *argv: str, check: bool = True, input_: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        pw = pwd.getpwnam(self.os_user)

        def demote() -> None:
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

        return subprocess.run(argv, check=check, capture_output=True, input=input_, timeout=120,
                              preexec_fn=demote if os.geteuid() == 0 else None,
                              env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8", "HOME": str(self.base)})

    def start(self) -> "PostgresServer":
        pw = pwd.getpwnam(self.os_user)
        self.base.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        for path in (self.base, self.socket_dir):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o755)
        pwfile = self.base / "initpw"
        pwfile.write_text(self.password + "\n")
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        os.chmod(pwfile, 0o600)
        self._as_user(str(self.bindir / "initdb"), "-D", str(self.data), "-U", USER, "--auth=scram-sha-256",
                      f"--pwfile={pwfile}", "-E", "UTF8", "--no-instructions")
        pwfile.unlink()
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(f"listen_addresses = ''\nunix_socket_directories = '{self.socket_dir}'\nport = {self.port}\n"
                       "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\n"
                       "max_connections = 40\n")
        self.passfile.write_text(f"*:*:*:{USER}:{self.password}\n")
        os.chmod(self.passfile, 0o600)
        self._as_user(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                      "-w", "-t", str(int(START_TIMEOUT)), "start")
        _running.append(self)
        self._wait_ready()
        self.psql(f"CREATE DATABASE {DATABASE}", database="postgres")
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            ok = subprocess.run([str(self.bindir / "pg_isready"), "-h", str(self.socket_dir), "-p", str(self.port)],
                                capture_output=True, timeout=10)
            if ok.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL did not start: {(self.base / 'log').read_text()[-2000:]}")

    def psql(self, sql: str, database: str = DATABASE) -> str:
        out = subprocess.run(["psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", str(self.socket_dir),
                              "-p", str(self.port), "-U", USER, "-d", database, "-c", sql],
                             capture_output=True, timeout=60, env={**os.environ, "PGPASSFILE": str(self.passfile)})
        if out.returncode != 0:
            raise RuntimeError(f"psql failed: {out.stderr.decode()[-500:]}")
        return out.stdout.decode()

    def stop(self, mode: str = "fast") -> None:
        if self in _running:
            self._as_user(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
            _running.remove(self)

    def restart_later(self) -> None:
        """Start again after stop(), same data and socket (for outage tests)."""
        self._as_user(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.base / "log"),
                      "-w", "-t", str(int(START_TIMEOUT)), "start")
        _running.append(self)
        self._wait_ready()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> "PostgresServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()
