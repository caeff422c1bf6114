"""Make the shared helpers importable (this folder is not a package) and offer scan_text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from dlp_helpers import scan_text as _scan_text  # noqa: E402


@pytest.fixture
def scan_text():
    return _scan_text
