"""pymilter owns the top-level names `milter` and `Milter`: nothing of ours may shadow them."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_milter_is_pymilters_c_module():
    spec = importlib.util.find_spec("milter")
    assert spec is not None and spec.origin is not None
    assert spec.origin.endswith(".so"), spec.origin


def test_no_package_named_milter_or_filters_in_the_repo():
    assert not (ROOT / "milter" / "__init__.py").exists()
    assert not (ROOT / "filters" / "__init__.py").exists()


def test_import_from_repo_root_works():
    out = subprocess.run([sys.executable, "-c", "import Milter, milter, privacy_milter, privacy_filters; print('ok')"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
