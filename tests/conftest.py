"""Shared test set-up. Real-server fixtures (Postfix, sink, clamd, spamd) live in tests/harness."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so `tests.harness` imports under any runner
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.harness.fixtures"]


# The DLP dev corpus lives next to the checkout (../shared/corpus/dlp-dev), not in it. A test
# that reads it carries @pytest.mark.dev_corpus: without the corpus it is skipped with the
# reason, instead of passing over an empty list or failing on a count.
DEV_CORPUS = ROOT.parent / "shared" / "corpus" / "dlp-dev"


def pytest_configure(config: "pytest.Config") -> None:
    config.addinivalue_line("markers", f"dev_corpus: reads the DLP dev corpus ({DEV_CORPUS})")


def pytest_runtest_setup(item: "pytest.Item") -> None:
    if item.get_closest_marker("dev_corpus") is not None and not any(DEV_CORPUS.glob("*.eml")):
        pytest.skip(f"the DLP dev corpus is absent: no .eml files in {DEV_CORPUS} "
                    "(it is kept next to the checkout, in ../shared/corpus/dlp-dev)")


# This host's name (privacy_milter.hostname) comes from Postfix's myhostname, and a name
# like `localhost` refuses to start. A test machine may have no /etc/postfix/main.cf (or a
# dotless host name): every test, and every daemon a test starts, gets a Postfix config
# dir of its own through MAIL_CONFIG (postconf honours it). Tests of the resolution itself
# set their own.
if "MAIL_CONFIG" not in os.environ:
    _postfix_etc = Path(tempfile.mkdtemp(prefix="pm-tests-postfix-etc-"))
    (_postfix_etc / "main.cf").write_text("myhostname = mx.privacy-milter.test\n")
    (_postfix_etc / "master.cf").write_text("")
    os.chmod(_postfix_etc, 0o755)
    os.environ["MAIL_CONFIG"] = str(_postfix_etc)
    atexit.register(shutil.rmtree, _postfix_etc, True)

# policy.parse reads the filters the registry installs (policy.py imports no filter): the
# tests parse policies everywhere, so the registry is imported once for all of them.
import privacy_milter.registry  # noqa: E402,F401
