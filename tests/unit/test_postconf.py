"""postconf.read against the real postconf binary over a main.cf the test writes (no instance runs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from privacy_milter import postconf
from privacy_milter.postconf import PostconfError

pytestmark = pytest.mark.skipif(shutil.which("postconf", path="/usr/sbin:/usr/bin") is None,
                                reason="Postfix is installed by make test")


def _config(tmp_path: Path, main_cf: str) -> Path:
    (tmp_path / "main.cf").write_text(main_cf)
    (tmp_path / "master.cf").write_text("")
    return tmp_path


def test_reads_expanded_values_in_order(tmp_path: Path) -> None:
    d = _config(tmp_path, "myhostname = mx1.shop.example\nrelayhost = [smtp.relay.example]:587\n"
                          "myorigin = $myhostname\n")
    got = postconf.read(("relayhost", "myorigin", "myhostname"), d)
    assert got == {"relayhost": "[smtp.relay.example]:587", "myorigin": "mx1.shop.example",
                   "myhostname": "mx1.shop.example"}


def test_default_value_is_postfix_own(tmp_path: Path) -> None:
    d = _config(tmp_path, "myhostname = mx1.shop.example\n")
    assert postconf.value("relayhost", d) == ""
    assert postconf.value("milter_default_action", d) == "tempfail"


def test_missing_main_cf_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PostconfError, match="postconf failed: .*main.cf"):
        postconf.read(("myhostname",), tmp_path / "nowhere")


def test_unknown_parameter_is_an_error_not_a_shifted_answer(tmp_path: Path) -> None:
    d = _config(tmp_path, "myhostname = mx1.shop.example\n")
    with pytest.raises(PostconfError):
        postconf.read(("no_such_parameter_xyz", "myhostname"), d)


def test_no_postconf_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(postconf.shutil, "which", lambda *a, **k: None)
    with pytest.raises(PostconfError, match="postconf was not found"):
        postconf.read(("myhostname",), tmp_path)
