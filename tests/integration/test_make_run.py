"""`make run` is the developer's command: it must leave nothing in the production paths
(issue 23 item 7). Before, it ran the daemon with ./policy.toml as it is, so a root
`make run` created /var/lib/privacy-milter/address.key, metadata.db and a socket under
/var/spool/postfix/privacy-milter, all owned by root, and the daemon later started as its
own user refused to start. Here the Makefile target itself runs as root, with a bound,
and the production paths are compared before and after (nothing the host already has is
touched; only what this run created is removed again, so a failing run leaves no trace).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = (Path("/var/lib/privacy-milter"), Path("/var/spool/postfix/privacy-milter"))
READY_BOUND = 60.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="make run is run as root here")


def snapshot() -> dict[Path, frozenset[str] | None]:
    """Each production directory's entries (recursively), or None where it does not exist."""
    out: dict[Path, frozenset[str] | None] = {}
    for d in PRODUCTION:
        if not d.exists():
            out[d] = None
            continue
        out[d] = frozenset(str(p.relative_to(d)) for p in d.rglob("*"))
    return out


def remove_new(before: dict[Path, frozenset[str] | None]) -> None:
    """Undo only what this run created: a directory that was absent, or new entries in one
    that existed."""
    for d, entries in before.items():
        if entries is None:
            shutil.rmtree(d, ignore_errors=True)
            continue
        for p in sorted(d.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            if str(p.relative_to(d)) not in entries:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() and not p.is_symlink() else p.unlink(missing_ok=True)


def wait_ready(proc: subprocess.Popen[bytes], log: Path) -> str:
    deadline = time.monotonic() + READY_BOUND
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        if "privacy-milter ready on" in text:
            return text
        if proc.poll() is not None:
            raise AssertionError(f"make run exited {proc.returncode}:\n{text[-3000:]}")
        time.sleep(0.1)
    raise AssertionError(f"make run: not ready within {READY_BOUND}s:\n{log.read_text(errors='replace')[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_make_run_as_root_leaves_nothing_in_the_production_paths():
    before = snapshot()
    tmp = Path(tempfile.mkdtemp(prefix="pm-make-run-"))
    run_dir, state_dir, log = tmp / "run", tmp / "var", tmp / "make.log"
    # -o: the venv and the Debian packages are there already; make must not reinstall them
    cmd = ["make", "--no-print-directory", "-C", str(REPO), "-o", ".venv/.installed", "-o", "system-run",
           "run", f"RUN_DIR={run_dir}", f"STATE_DIR={state_dir}"]
    try:
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            text = wait_ready(proc, log)
            assert (run_dir / "milter.sock").is_socket(), text[-2000:]
            # the lines it prints name the socket the daemon really listens on
            assert f"smtpd_milters = unix:{run_dir}/milter.sock" in text
        finally:
            stop(proc)
        after = snapshot()
        assert after == before, f"make run created files in the production paths: {after} (before: {before})"
        key = state_dir / "address.key"
        assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
        assert (state_dir / "metadata.db").exists()
    finally:
        remove_new(before)
        shutil.rmtree(tmp, ignore_errors=True)
