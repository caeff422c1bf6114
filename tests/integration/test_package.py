"""The Debian package, built from this checkout and checked the way Debian does.

- build: scripts/build-deb (dpkg-buildpackage, debhelper 13), cached under CACHE by a hash of
  the files that go into it, so a second run of the suite does not build again;
- lintian with no errors (warnings printed; overrides carry their reasons in
  debian/privacy-milter.lintian-overrides);
- the file list, the unit, the maintainer scripts (shellcheck);
- install, configure again, upgrade, remove and purge with the real dpkg in a throwaway
  Debian 12 root (debootstrap minbase, scripts/test-chroot), in a mount namespace of its own
  so its /proc goes away with the test.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("PRIVACY_MILTER_TEST_CACHE", "/var/cache/privacy-milter-tests"))
BUILD_TIMEOUT = 1200   # seconds: pip fetches and builds every dependency on a cold cache
CHROOT_TIMEOUT = 900
PKG = "privacy-milter"
VENV = "/usr/lib/privacy-milter/venv"
# What goes into the package: everything build-deb copies, minus what does not reach it.
NOT_PACKAGED = ("tests/", "bench/", ".ci/", "scripts/test-chroot")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="building and installing a .deb needs root"),
    pytest.mark.skipif(shutil.which("dpkg-buildpackage") is None or shutil.which("dh") is None,
                       reason="dpkg-dev and debhelper are not installed (make system-deb)"),
    pytest.mark.timeout(BUILD_TIMEOUT + CHROOT_TIMEOUT),
]


def run(argv: list[str], timeout: float = 120, check: bool = True,
        **kw: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        raise AssertionError(f"{argv} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def inputs_hash() -> str:
    listed = run(["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others",
                  "--exclude-standard"]).stdout.split("\0")
    digest = hashlib.sha256()
    for name in sorted(n for n in listed if n and not n.startswith(NOT_PACKAGED)):
        path = REPO / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@pytest.fixture(scope="module")
def deb() -> Path:
    folder = CACHE / "deb" / inputs_hash()
    found = sorted(folder.glob(f"{PKG}_*.deb"))
    if not found:
        for old in (CACHE / "deb").glob("*"):   # earlier trees' packages: 44 MB each
            shutil.rmtree(old, ignore_errors=True)
        run([str(REPO / "scripts" / "build-deb"), str(folder)], timeout=BUILD_TIMEOUT)
        found = sorted(folder.glob(f"{PKG}_*.deb"))
    assert len(found) == 1, found
    return found[0]


@pytest.fixture(scope="module")
def contents(deb: Path) -> dict[str, str]:
    """Path -> the `dpkg-deb -c` line (mode, owner, size, link target)."""
    lines = run(["dpkg-deb", "-c", str(deb)]).stdout.splitlines()
    return {line.split()[5].removeprefix("."): line for line in lines}


@pytest.fixture(scope="module")
def control(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("control")
    run(["dpkg-deb", "-e", str(deb), str(folder)])
    return folder


@pytest.fixture(scope="module")
def tree(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package's files, unpacked once (dpkg-deb -x) for the tests to read."""
    folder = tmp_path_factory.mktemp("tree")
    run(["dpkg-deb", "-x", str(deb), str(folder)], timeout=300)
    return folder


def member(tree: Path, path: str) -> str:
    return (tree / path.lstrip("/")).read_text()


# --- what Debian's checker says --------------------------------------------------------------

@pytest.mark.skipif(shutil.which("lintian") is None, reason="lintian is not installed")
def test_lintian_reports_no_errors(deb: Path) -> None:
    done = run(["lintian", "--tag-display-limit", "0", str(deb)], timeout=600, check=False)
    lines = [line for line in done.stdout.splitlines() if line[:2] in ("E:", "W:")]
    warnings = sorted({line.split()[2] for line in lines if line.startswith("W:")})
    print("lintian warnings:", ", ".join(warnings) or "none")
    assert [line for line in lines if line.startswith("E:")] == []
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_file_list(tree: Path, contents: dict[str, str], control: Path) -> None:
    for path in ("/lib/systemd/system/privacy-milter.service",
                 "/lib/systemd/system/privacy-milter-quarantine-expire.service",
                 "/lib/systemd/system/privacy-milter-quarantine-expire.timer",
                 "/usr/lib/tmpfiles.d/privacy-milter.conf",
                 "/usr/lib/sysusers.d/privacy-milter.conf",
                 "/etc/privacy-milter/policy.toml",
                 "/etc/privacy-milter/dkim/",
                 "/etc/logrotate.d/privacy-milter",
                 "/usr/share/man/man8/privacy-milter.8.gz",
                 "/usr/share/man/man5/privacy-milter-policy.5.gz",
                 f"{VENV}/bin/privacy-milter",
                 "/usr/share/privacy-milter/postfix/main.cf",
                 "/usr/share/privacy-milter/postfix/master.cf"):
        assert path in contents, path
    assert contents["/usr/sbin/privacy-milter"].endswith("-> ../lib/privacy-milter/venv/bin/privacy-milter")
    conffiles = (control / "conffiles").read_text().split()
    assert "/etc/privacy-milter/policy.toml" in conffiles
    assert not [p for p in contents if "__pycache__" in p or p.endswith(".pyc")]
    assert not [p for p in contents if p.startswith("/opt/")]
    assert "pip" not in {Path(p).name for p in contents if p.startswith(f"{VENV}/bin/")}
    sysusers = member(tree, "/usr/lib/sysusers.d/privacy-milter.conf")
    assert "u privacy-milter " in sysusers
    # One source of truth: the snippets postfix-setup reads are the repository's own.
    for name in ("main.cf", "master.cf"):
        assert member(tree, f"/usr/share/privacy-milter/postfix/{name}") == \
            (REPO / "deploy" / "postfix" / name).read_text()
    assert member(tree, "/etc/privacy-milter/policy.toml") == (REPO / "policy.toml").read_text()


def test_unit_is_the_hardened_one_with_package_paths(tree: Path) -> None:
    unit = member(tree, "/lib/systemd/system/privacy-milter.service").splitlines()
    assert "ExecStart=/usr/sbin/privacy-milter run --policy /etc/privacy-milter/policy.toml" in unit
    source = (REPO / "deploy" / "systemd" / "privacy-milter.service").read_text().splitlines()
    hardening = [line for line in source if line.split("=")[0] in {
        "NoNewPrivileges", "ProtectSystem", "ReadWritePaths", "PrivateTmp", "SystemCallFilter",
        "CapabilityBoundingSet", "MemoryDenyWriteExecute", "RestrictAddressFamilies", "UMask",
        "User", "Group", "StateDirectory", "ExecStartPre", "LimitNOFILE"}]
    assert len(hardening) >= 12
    for line in hardening:
        assert line in unit, line
    assert not [line for line in unit if "/opt/" in line]
    expire = member(tree, "/lib/systemd/system/privacy-milter-quarantine-expire.service").splitlines()
    assert "ExecStart=/usr/sbin/privacy-milter quarantine expire --policy /etc/privacy-milter/policy.toml" in expire
    assert not [line for line in expire if "/opt/" in line]
    tmpfiles = member(tree, "/usr/lib/tmpfiles.d/privacy-milter.conf")
    for line in (REPO / "deploy" / "systemd" / "privacy-milter.tmpfiles").read_text().splitlines():
        if line and not line.startswith("#"):
            assert line in tmpfiles.splitlines()


def test_venv_names_its_installed_path_only(tree: Path, contents: dict[str, str]) -> None:
    """The venv was built in a staging folder; nothing may still point there."""
    for path in [p for p in contents if p.startswith(f"{VENV}/bin/") and not p.endswith("/")]:
        if "->" in contents[path]:
            continue
        head = member(tree, path)[:200]
        if head.startswith("#!"):
            assert head.startswith(f"#!{VENV}/bin/python"), (path, head.splitlines()[0])
    cfg = member(tree, f"{VENV}/pyvenv.cfg")
    assert "/debian/" not in cfg and "privacy-milter-deb" not in cfg


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_maintainer_scripts_pass_shellcheck(control: Path) -> None:
    scripts = [str(control / s) for s in ("postinst", "prerm", "postrm") if (control / s).exists()]
    assert len(scripts) == 3
    done = run(["shellcheck", "--shell=sh", "--severity=warning", *scripts], check=False)
    assert done.returncode == 0, done.stdout


# --- install, configure again, upgrade, remove, purge in a throwaway Debian 12 root ----------

class Root:
    """A Debian 12 root unpacked in a temp folder; commands run chrooted in a private mount
    namespace with its own /proc (gone when the command ends)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def sh(self, script: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        inner = f"mount -t proc proc '{self.path}/proc' && exec chroot '{self.path}' /bin/sh -ec \"$0\""
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "DEBIAN_FRONTEND": "noninteractive"}
        # A PID namespace too: whatever the script leaves running dies with it.
        return run(["unshare", "--mount", "--pid", "--fork", "sh", "-c", inner, script],
                   timeout=timeout, check=check, env=env)

    def stat(self, path: str) -> str:
        return self.sh(f"stat -c '%U:%G %a' {path}").stdout.strip()

    def file(self, path: str) -> Path:
        return self.path / path.lstrip("/")


FAKE_SYSTEMCTL = """#!/bin/sh
echo "$*" >> /var/log/systemctl.calls
case " $* " in
    *" is-active "*) exit 3 ;;
    *" --root="*) exec /usr/bin/systemctl.real "$@" ;;
    *" preset "*|*" enable "*|*" disable "*|*" is-enabled "*|*" mask "*|*" unmask "*)
        exec /usr/bin/systemctl.real --root=/ "$@" ;;
esac
exit 0
"""


@pytest.fixture(scope="module")
def chroot_tarball() -> Path:
    if shutil.which("debootstrap") is None or shutil.which("unshare") is None:
        pytest.skip("debootstrap (make system-deb) or unshare is not installed")
    tarball = CACHE / "chroot-bookworm.tar"
    week = 7 * 86400   # a fresh root each week: security updates of its packages
    if not tarball.exists() or time.time() - tarball.stat().st_mtime > week:
        run([str(REPO / "scripts" / "test-chroot"), str(tarball)], timeout=CHROOT_TIMEOUT)
    return tarball


@pytest.fixture
def root(chroot_tarball: Path, tmp_path: Path) -> Iterator[Root]:
    path = tmp_path / "root"
    path.mkdir()
    with tarfile.open(chroot_tarball) as tar:
        tar.extractall(path, numeric_owner=True)  # our own tarball, made by scripts/test-chroot
    path.chmod(0o755)
    r = Root(path)
    # No systemd runs in the root, so the scripts are made to believe one does and their
    # systemctl calls are recorded: the ones that only edit files (enable, preset, ...) go
    # to the real systemctl, which does them offline (--root=/); start, restart, reload only leave
    # their line; is-active says "inactive".
    r.file("/run/systemd/system").mkdir(parents=True, exist_ok=True)
    r.file("/usr/bin/systemctl").rename(r.file("/usr/bin/systemctl.real"))
    r.file("/usr/bin/systemctl").write_text(FAKE_SYSTEMCTL)
    r.file("/usr/bin/systemctl").chmod(0o755)
    yield r
    subprocess.run(["rm", "-rf", "--one-file-system", str(path)], timeout=120, check=False)


# The unit's ExecStart as its User=, with the unit's UMask; the socket awaited (bounded), then
# opened as the postfix user, which reaches it only through the privacy-milter group.
DAEMON_CHECK = """
umask 0007
runuser -u privacy-milter -- /usr/sbin/privacy-milter run --policy /etc/privacy-milter/policy.toml \
    > /tmp/daemon.log 2>&1 &
sock=/var/spool/postfix/privacy-milter/milter.sock
i=0
while [ ! -S "$sock" ] && [ $i -lt 600 ] && kill -0 $! 2>/dev/null; do sleep 0.1; i=$((i+1)); done
if [ ! -S "$sock" ]; then echo "no socket after $i tries"; cat /tmp/daemon.log; exit 1; fi
stat -c '%U:%G %a' "$sock"
runuser -u postfix -- python3 -c \\
    "import socket; s = socket.socket(socket.AF_UNIX); s.connect('$sock'); print('postfix connected')"
kill -TERM $!
wait $! || true
"""


def repack(deb: Path, version: str, out: Path) -> Path:
    """The same package with another version: what an upgrade's maintainer scripts see."""
    tree = out / "tree"
    run(["dpkg-deb", "-R", str(deb), str(tree)])
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    old = next(line for line in text.splitlines() if line.startswith("Version: "))
    control.write_text(text.replace(old, f"Version: {version}"))
    target = out / f"{PKG}_{version}.deb"
    run(["dpkg-deb", "-Zgzip", "-z1", "-b", str(tree), str(target)], timeout=300)
    shutil.rmtree(tree)
    return target


def snapshot(root: Root) -> str:
    """What configure touches: accounts, overrides, owners and modes, enabled units."""
    return root.sh("cat /etc/passwd /etc/group /var/lib/dpkg/statoverride; "
                   "stat -c '%n %U:%G %a' /etc/privacy-milter/dkim /var/lib/privacy-milter "
                   "/var/spool/postfix/privacy-milter /var/log/privacy-milter; "
                   "ls -la /etc/systemd/system/multi-user.target.wants/").stdout


def test_install_configure_again_upgrade_remove_purge(deb: Path, root: Root, tmp_path: Path) -> None:
    shutil.copy(deb, root.file("/tmp/v1.deb"))
    shutil.copy(repack(deb, "0.1.0+upgrade1", tmp_path), root.file("/tmp/v2.deb"))

    # Install.
    root.sh("dpkg -i /tmp/v1.deb", timeout=600)
    assert root.sh("getent passwd privacy-milter").stdout.split(":")[5] == "/var/lib/privacy-milter"
    assert "privacy-milter" in root.sh("id -nG postfix").stdout.split()
    assert root.stat("/etc/privacy-milter/dkim") == "privacy-milter:privacy-milter 750"
    assert root.stat("/var/lib/privacy-milter") == "privacy-milter:privacy-milter 750"
    assert root.stat("/var/spool/postfix/privacy-milter") == "privacy-milter:privacy-milter 750"
    assert root.file("/etc/systemd/system/multi-user.target.wants/privacy-milter.service").is_symlink()
    assert "start privacy-milter.service" in root.file("/var/log/systemctl.calls").read_text()
    # Held mail's daily expiry: the timer enabled and started, its service only by the timer.
    assert root.file("/etc/systemd/system/timers.target.wants/privacy-milter-quarantine-expire.timer").is_symlink()
    assert "start privacy-milter-quarantine-expire.timer" in root.file("/var/log/systemctl.calls").read_text()
    assert "start privacy-milter-quarantine-expire.service" not in root.file("/var/log/systemctl.calls").read_text()
    # The relocated venv runs from its installed path, as root and as the daemon's user.
    # What policy check asks of a new host: a fully qualified name for Postfix (the root
    # has the build host's short one).
    root.sh("postconf -e myhostname=mx1.example.net")
    root.sh("privacy-milter policy check /etc/privacy-milter/policy.toml")
    root.sh("runuser -u privacy-milter -- /usr/sbin/privacy-milter policy check /etc/privacy-milter/policy.toml")
    shown = root.sh("privacy-milter postfix-setup").stdout   # reads /usr/share/privacy-milter/postfix
    assert "smtpd_milters=unix:privacy-milter/milter.sock" in shown
    assert root.sh("man -w privacy-milter 2>/dev/null || ls /usr/share/man/man8/privacy-milter.8.gz").stdout

    # Attached as DEPLOY.md says: postfix-setup on Debian's own main.cf, then the daemon, run
    # as its user by the unit's command line, answers on the socket Postfix's user can open.
    main_cf = root.file("/etc/postfix/main.cf").read_bytes()
    root.sh("privacy-milter postfix-setup --apply")
    root.sh("postfix check")
    assert root.sh("postconf -h smtpd_milters").stdout.strip() == "unix:privacy-milter/milter.sock"
    started = root.sh(DAEMON_CHECK, check=False, timeout=120)
    assert started.returncode == 0, started.stdout + started.stderr
    assert "postfix connected" in started.stdout
    # doctor runs from the package (its verdict here is not the point: no Postfix runs).
    doctor = root.sh("privacy-milter doctor --json", check=False, timeout=180)
    assert doctor.returncode in (0, 1, 2), doctor.stdout + doctor.stderr
    assert json.loads(doctor.stdout)["checks"]
    root.sh("privacy-milter postfix-setup --undo")
    assert root.file("/etc/postfix/main.cf").read_bytes() == main_cf

    # Configure again: nothing changes.
    before = snapshot(root)
    root.sh("/var/lib/dpkg/info/privacy-milter.postinst configure 0.1.0")
    assert snapshot(root) == before

    # The admin's data and edits.
    root.sh("runuser -u privacy-milter -- sh -c 'head -c 32 /dev/urandom > /var/lib/privacy-milter/address.key; "
            "echo store > /var/lib/privacy-milter/metadata.db; echo key > /etc/privacy-milter/dkim/ex.key'")
    with root.file("/etc/privacy-milter/policy.toml").open("a") as f:
        f.write("\n# edited by the admin\n")
    kept = {p: root.file(p).read_bytes() for p in (
        "/var/lib/privacy-milter/address.key", "/var/lib/privacy-milter/metadata.db",
        "/etc/privacy-milter/dkim/ex.key", "/etc/privacy-milter/policy.toml")}

    # Upgrade: data and edits kept, the daemon restarted.
    root.file("/var/log/systemctl.calls").write_text("")
    root.sh("dpkg -i /tmp/v2.deb", timeout=600)
    assert root.sh("dpkg-query -W -f '${Version}' privacy-milter").stdout == "0.1.0+upgrade1"
    assert {p: root.file(p).read_bytes() for p in kept} == kept
    assert "restart privacy-milter.service" in root.file("/var/log/systemctl.calls").read_text()
    assert root.stat("/etc/privacy-milter/dkim") == "privacy-milter:privacy-milter 750"
    root.sh("privacy-milter policy check /etc/privacy-milter/policy.toml")

    # Remove: the program goes, the data and the configuration stay.
    root.sh("dpkg -r privacy-milter", timeout=600)
    assert not root.file("/usr/lib/privacy-milter").exists()   # bytecode included (prerm)
    assert not root.file("/usr/sbin/privacy-milter").exists()
    assert {p: root.file(p).read_bytes() for p in kept} == kept

    # Purge: the data goes too.
    root.sh("dpkg -P privacy-milter", timeout=600)
    for gone in ("/var/lib/privacy-milter", "/etc/privacy-milter", "/var/log/privacy-milter",
                 "/var/spool/postfix/privacy-milter"):
        assert not root.file(gone).exists(), gone
    assert "privacy-milter" not in root.file("/var/lib/dpkg/statoverride").read_text()
