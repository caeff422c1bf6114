#!/usr/bin/env python3
"""The fuzz properties of tests/unit/test_fuzz.py with many more examples than CI runs.

    .venv/bin/python bench/fuzz_long.py            # 5,000 examples per property
    .venv/bin/python bench/fuzz_long.py 20000

Prints pytest's summary; a failure is shrunk by hypothesis to a minimal input, which then
belongs in test_fuzz.py as an @example.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> int:
    examples = argv[1] if len(argv) > 1 else "5000"
    env = {**os.environ, "FUZZ_EXAMPLES": examples}
    started = time.monotonic()
    code = subprocess.call([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "3600",
                            str(ROOT / "tests/unit/test_fuzz.py")], cwd=ROOT, env=env)
    print(f"# {examples} examples per property, {time.monotonic() - started:.0f} s, exit {code}")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
