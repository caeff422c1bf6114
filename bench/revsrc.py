"""The daemon's sources at a git revision, for A/B benchmarks: exported (milter/ and
filters/ only) into a directory that goes ahead of the editable install on PYTHONPATH.
The probe checks that the venv's Python really imports the exported copy."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


class RevisionError(Exception):
    pass


def export_sources(rev: str, dest: Path) -> tuple[dict[str, str], str]:
    """Export REV's milter/ and filters/ into dest; the environment that runs them, and the commit."""
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--verify", rev + "^{commit}"],
                            capture_output=True, text=True, check=False)
    if commit.returncode != 0:
        raise RevisionError(f"unknown revision {rev}")
    sha = commit.stdout.strip()
    dest.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", sha, "milter", "filters"],
                             capture_output=True, check=False)
    if archive.returncode != 0:
        raise RevisionError(f"git archive {rev}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.11.4; the archive is this repository's own
            tar.extractall(dest)
    env = dict(os.environ, PYTHONPATH=f"{dest / 'milter'}{os.pathsep}{dest / 'filters'}")
    python = REPO / ".venv" / "bin" / "python"
    probe = "import privacy_milter, privacy_filters.dlp as d; print(privacy_milter.__file__); print(d.__file__)"
    where = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, env=env,
                           check=False).stdout.split()
    if len(where) != 2 or not all(w.startswith(str(dest)) for w in where):
        raise RevisionError(f"the venv's python does not import the exported sources ({where})")
    return env, sha[:10]
