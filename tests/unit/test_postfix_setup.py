"""`privacy-milter postfix-setup` on a throwaway Postfix configuration directory.

Real `postconf -c DIR` reads and writes a plain main.cf and Debian's stock master.cf in a
temp folder; nothing outside it is touched.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from privacy_milter import cli, postfix_setup

POSTCONF = shutil.which("postconf") or shutil.which("postconf", path="/usr/sbin:/sbin")
pytestmark = pytest.mark.skipif(POSTCONF is None, reason="Postfix's postconf is not installed")

REPO = Path(__file__).resolve().parents[2]
SNIPPETS = REPO / "deploy" / "postfix"
OURS = "unix:privacy-milter/milter.sock"
OPENDKIM = "local:opendkim/opendkim.sock"
RSPAMD = "inet:localhost:11332"
STOCK_MASTER = Path("/etc/postfix/master.cf.proto")  # Debian's master.cf as shipped

MAIN_CF = f"""\
# A Debian host where OpenDKIM is attached already.
myhostname = mx.example.net
smtpd_milters = {OPENDKIM}
non_smtpd_milters = $smtpd_milters
milter_default_action = accept
milter_mail_macros = i {{mail_addr}} {{client_name}}
"""


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    d = tmp_path / "postfix"
    d.mkdir()
    (d / "main.cf").write_text(MAIN_CF)
    if STOCK_MASTER.exists():
        shutil.copy(STOCK_MASTER, d / "master.cf")
    else:
        (d / "master.cf").write_text("smtp      inet  n       -       y       -       -       smtpd\n")
    return d


def setup(conf: Path, *extra: str) -> int:
    return cli.main(["postfix-setup", "--config-dir", str(conf), *extra])


def live(conf: Path, *names: str) -> list[str]:
    done = subprocess.run([str(POSTCONF), "-c", str(conf), "-x", "-h", *names],
                          capture_output=True, text=True, check=True, timeout=10)
    return done.stdout.splitlines()


def digest(folder: Path) -> dict[str, str]:
    """Every file under the folder (backups included) by its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_apply_puts_privacy_milter_before_opendkim_and_keeps_it(conf: Path) -> None:
    assert setup(conf, "--apply") == 0
    smtpd, non_smtpd, action = live(conf, "smtpd_milters", "non_smtpd_milters", "milter_default_action")
    assert postfix_setup.split_list(smtpd) == [OURS, OPENDKIM]   # the signer after us
    assert postfix_setup.split_list(non_smtpd) == [OURS, OPENDKIM]
    assert action == "tempfail"


def test_macros_are_merged_not_replaced(conf: Path) -> None:
    assert setup(conf, "--apply") == 0
    (mail,) = live(conf, "milter_mail_macros")
    macros = mail.split()
    assert macros[:3] == ["i", "{mail_addr}", "{client_name}"]  # the other milter's stay first
    for needed in ("{client_addr}", "{daemon_name}", "{tls_version}", "{cipher}", "{auth_authen}"):
        assert needed in macros
    assert len(macros) == len(set(macros))


def test_every_snippet_line_is_applied(conf: Path) -> None:
    """One source of truth: what deploy/postfix/main.cf lists is what Postfix ends up with."""
    assert setup(conf, "--apply") == 0
    snippet = postfix_setup.parse_main((SNIPPETS / "main.cf").read_text())
    names = [n for n, _ in snippet]
    values = dict(zip(names, live(conf, *names)))
    for name, ours in snippet:
        ours = ours.replace("/etc/postfix/", f"{conf}/")
        if name in postfix_setup.LIST_PARAMETERS:
            assert ours in postfix_setup.split_list(values[name]), name
        elif name.endswith("_macros"):
            assert set(ours.split()) <= set(values[name].split()), name
        else:
            assert values[name] == ours, name
    entry = subprocess.run([str(POSTCONF), "-c", str(conf), "-M", "privacy-encrypt/unix"],
                           capture_output=True, text=True, check=True).stdout
    assert "smtp_tls_security_level=encrypt" in entry
    checks = (conf / "privacy-milter-header-checks.regexp").read_text()
    assert "FILTER privacy-encrypt:" in checks
    assert (conf / "privacy-milter-strip.regexp").read_bytes() == \
        (SNIPPETS / "privacy-milter-strip.regexp").read_bytes()


def test_second_run_changes_nothing(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert setup(conf, "--apply") == 0
    before = digest(conf)
    capsys.readouterr()
    assert setup(conf, "--apply") == 0
    assert digest(conf) == before          # byte-identical, and no second backup
    assert "nothing to change" in capsys.readouterr().out


def test_undo_restores_byte_for_byte(conf: Path) -> None:
    original = {n: (conf / n).read_bytes() for n in ("main.cf", "master.cf")}
    assert setup(conf, "--apply") == 0
    assert (conf / "main.cf").read_bytes() != original["main.cf"]
    assert setup(conf, "--undo") == 0
    assert {n: (conf / n).read_bytes() for n in original} == original
    assert not (conf / "privacy-milter-header-checks.regexp").exists()
    assert sorted(p.name for p in conf.iterdir() if p.is_file()) == ["main.cf", "master.cf"]
    # The backup is used up: a second --undo has nothing to restore and says so.
    assert list((conf / postfix_setup.BACKUP_FOLDER).iterdir()) == []
    assert setup(conf, "--undo") == 69


def test_undo_refuses_to_lose_later_edits(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    original = (conf / "main.cf").read_bytes()
    assert setup(conf, "--apply") == 0
    with (conf / "main.cf").open("a") as f:
        f.write("message_size_limit = 52428800\n")
    capsys.readouterr()
    assert setup(conf, "--undo") == 69
    assert "main.cf changed since postfix-setup wrote it" in capsys.readouterr().err
    assert setup(conf, "--undo", "--force") == 0
    assert (conf / "main.cf").read_bytes() == original


def test_print_only_writes_nothing(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = digest(conf)
    assert setup(conf) == 0
    out = capsys.readouterr().out
    assert f"smtpd_milters={OURS}, {OPENDKIM}" in out
    assert "--apply" in out
    assert digest(conf) == before


def test_rspamd_and_opendkim_keep_their_order_after_us(conf: Path) -> None:
    (conf / "main.cf").write_text(f"smtpd_milters = {RSPAMD}, {OPENDKIM}\n"
                                  f"non_smtpd_milters = {OPENDKIM}\n")
    assert setup(conf, "--apply") == 0
    smtpd, non_smtpd = live(conf, "smtpd_milters", "non_smtpd_milters")
    assert postfix_setup.split_list(smtpd) == [OURS, RSPAMD, OPENDKIM]
    assert postfix_setup.split_list(non_smtpd) == [OURS, OPENDKIM]


def test_an_admin_order_with_us_already_listed_stands(conf: Path) -> None:
    (conf / "main.cf").write_text(f"smtpd_milters = {RSPAMD} {OURS} {{ {OPENDKIM}, default_action=accept }}\n")
    assert setup(conf, "--apply") == 0
    (smtpd,) = live(conf, "smtpd_milters")
    assert postfix_setup.split_list(smtpd) == [RSPAMD, OURS, f"{{ {OPENDKIM}, default_action=accept }}"]


def test_submission_service_is_marked_originating(conf: Path) -> None:
    with (conf / "master.cf").open("a") as f:
        f.write("submission inet n       -       y       -       -       smtpd\n"
                "  -o syslog_name=postfix/submission\n")
    assert setup(conf, "--apply") == 0
    entry = subprocess.run([str(POSTCONF), "-c", str(conf), "-M", "submission/inet"],
                           capture_output=True, text=True, check=True).stdout
    assert "-o milter_macro_daemon_name=ORIGINATING" in entry
    assert "-o syslog_name=postfix/submission" in entry


def test_relayhost_needs_a_relayhost(conf: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not (SNIPPETS / "main-relayhost.cf").exists():
        pytest.skip("deploy/postfix/main-relayhost.cf (issue 23) is not on this branch yet")
    before = digest(conf)
    assert setup(conf, "--apply", "--relayhost") == 69
    assert "has no relayhost" in capsys.readouterr().err
    assert digest(conf) == before


def test_relayhost_variant_names_the_relay(conf: Path) -> None:
    if not (SNIPPETS / "main-relayhost.cf").exists():
        pytest.skip("deploy/postfix/main-relayhost.cf (issue 23) is not on this branch yet")
    with (conf / "main.cf").open("a") as f:
        f.write("relayhost = [smtp.provider.example]:587\n")
    assert setup(conf, "--apply", "--relayhost") == 0
    relay, checks = live(conf, "relayhost", "milter_header_checks")
    assert relay == "[smtp.provider.example]:587"    # the admin's relay, not the example's
    assert "relayhost" in checks
    table = (conf / "privacy-milter-header-checks-relayhost.regexp").read_text()
    assert "FILTER privacy-encrypt:[smtp.provider.example]:587" in table
    entry = subprocess.run([str(POSTCONF), "-c", str(conf), "-M", "privacy-encrypt/unix"],
                           capture_output=True, text=True, check=True).stdout
    assert "smtp_tls_security_level=secure" in entry


def test_missing_main_cf_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert setup(tmp_path, "--apply") == 69
    assert "postconf" in capsys.readouterr().err
