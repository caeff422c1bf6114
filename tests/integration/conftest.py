"""Fixtures for integration tests: the real daemon (see tests/harness/milter_process.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.harness.milter_process import MilterProcess


@pytest.fixture
def milter_factory():
    # Not under pytest's tmp_path: its parents are 0700 and Postfix (user postfix) must reach the socket.
    root = Path(tempfile.mkdtemp(prefix="pm-milter-"))
    os.chmod(root, 0o755)
    started: list[MilterProcess] = []

    def make(policy_text: str = "", tls_policy: str = "enabled = false") -> MilterProcess:
        m = MilterProcess(root / f"m{len(started)}", policy_text, tls_policy)
        started.append(m)
        return m.start()

    yield make
    for m in started:
        m.stop()
    shutil.rmtree(root, ignore_errors=True)
