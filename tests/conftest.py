"""Shared test set-up. Real-server fixtures (Postfix, sink, clamd, spamd) live in tests/harness."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so `tests.harness` imports under any runner
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.harness.fixtures"]
