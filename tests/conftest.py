"""Shared test set-up. Real-server fixtures (Postfix, sink, clamd, spamd) live in tests/harness."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # so `tests.harness` imports under any runner
    sys.path.insert(0, str(ROOT))

pytest_plugins = ["tests.harness.fixtures"]


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
