"""`privacy-milter doctor` against a throwaway Postfix, a running daemon, the DNS stub and
a DKIM key: a correct set-up is all ok (every line asserted), and each planted cause makes
its own check fail with its own message while every other line stays ok."""

from __future__ import annotations

import grp
import json
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from privacy_filters.dkim.keys import keygen
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS
from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import VENV_BIN, MilterProcess
from tests.harness.ports import free_port
from tests.harness.postfix import POSTCONF, PostfixInstance

pytestmark = pytest.mark.postfix

DOMAIN, SELECTOR = "shop.test", "s1"
ROOT_SOA = "a.root-servers.net. nstld.verisign-grs.com. 2026120800 1800 900 604800 86400"


@dataclass
class Site:
    root: Path
    pf: PostfixInstance
    milter: MilterProcess
    stub: DnsStub
    policy_text: str
    dkim_record: str

    def doctor(self, policy_text: str | None = None, timeout: float = 30.0) -> tuple[int, dict[str, list[dict]]]:
        """Run doctor as an admin would (a process); its exit and its lines by check name."""
        path = self.root / f"doctor-{secrets.token_hex(4)}.toml"
        path.write_text(self.policy_text if policy_text is None else policy_text)
        done = subprocess.run([str(VENV_BIN / "privacy-milter"), "doctor", "--policy", str(path),
                               "--postfix-config", str(self.pf.etc_dir), "--json"],
                              capture_output=True, text=True, timeout=timeout)
        out = json.loads(done.stdout)
        assert out["exit"] == done.returncode, done.stderr
        lines: dict[str, list[dict]] = {}
        for line in out["checks"]:
            lines.setdefault(line["check"], []).append(line)
        return done.returncode, lines


def _extra(pf: PostfixInstance, stub: DnsStub, key: Path, state: Path) -> str:
    return f"""
[network]
hosted_domains = ["{DOMAIN}"]
[pipeline]
filters = ["dlp", "tls", "dkim"]
[filters.dkim]
nameserver = "127.0.0.1:{stub.port}"
dns_timeout = 2
[filters.dkim.keys."{DOMAIN}"]
"{SELECTOR}" = {{ key_file = "{key}", algorithm = "ed25519-sha256" }}
[summary]
recipients = ["admin@{DOMAIN}"]
maillog = "{pf.maillog_path}"
maillog_state = "{state}"
[smtp]
host = "127.0.0.1"
port = {pf.smtpd_port}
"""


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    root = harness_dir("doctor")
    (root / "dkim").mkdir()
    stub = DnsStub().start()
    pf: PostfixInstance | None = None
    milter: MilterProcess | None = None
    try:
        stub.add(".", "SOA", ROOT_SOA).secure(".")
        key, record = keygen(DOMAIN, SELECTOR, "ed25519-sha256", root / "dkim")
        stub.add(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT", f'"{record}"')
        sock_dir = root / "milter" / "sock"  # where MilterProcess puts its sockets
        relay_port = free_port()  # nothing is delivered: doctor sends no mail
        (root / "header-checks.regexp").write_text(
            f"/^X-Privacy-Encrypt:/ FILTER privacy-encrypt:[127.0.0.1]:{relay_port}\n")
        pf = PostfixInstance(root / "pf", relay_port=relay_port, milter=f"unix:{sock_dir / 'milter.sock'}", extra_main={
            **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()},
            "milter_header_checks": f"regexp:{root / 'header-checks.regexp'}",
            "smtp_tls_policy_maps": f"socketmap:unix:{sock_dir / 'tlspolicy.sock'}:tlspolicy"})
        for args in (("-M", "privacy-encrypt/unix=privacy-encrypt unix - - n - - smtp"),
                     ("-P", "privacy-encrypt/unix/smtp_tls_security_level=encrypt")):
            subprocess.run([POSTCONF, "-c", str(pf.etc_dir), *args], check=True, timeout=30)
        milter = MilterProcess(root / "milter", _extra(pf, stub, key, root / "maillog.pos"),
                               tls_policy=f"enabled = true\nnameserver = \"127.0.0.1\"\n"
                                          f"nameserver_port = {stub.port}\ndane = true",
                               env={"MAIL_CONFIG": str(pf.etc_dir)})  # the daemon reads this Postfix too
        assert milter.spec == pf.milter
        pf.start()
        _start_daemon(milter)
        yield Site(root, pf, milter, stub, milter.policy_path.read_text(), record)
    finally:
        if milter is not None:
            milter.stop()
        if pf is not None:
            pf.stop()
        stub.stop()
        shutil.rmtree(root, ignore_errors=True)


def _start_daemon(milter: MilterProcess) -> None:
    milter.start()
    # As the package sets it up: 0660, a group Postfix belongs to (here postfix's own).
    os.chmod(milter.socket_path, 0o660)
    os.chown(milter.socket_path, 0, grp.getgrnam("postfix").gr_gid)


EXPECTED_OK = {
    "policy": r"parses \(filters: dlp, tls, dkim\)",
    "host name": r"^this host is mx\.harness\.test$",
    "milter socket": r"\(mode 0660, owner root:postfix\): Postfix \(user postfix\) can write to it",
    "milter answers": r"the daemon answers \(milter protocol 6\)",
    "postfix milters": r"smtpd_milters and non_smtpd_milters list unix:/",
    "postfix macros": r"Postfix sends every macro the milter reads",
    "postfix default action": r"^milter_default_action = tempfail$",
    "encrypt-only transport": r"privacy-encrypt service sends only over TLS \(smtp_tls_security_level = encrypt\)",
    "flagged-mail route": r"milter_header_checks sends X-Privacy-Encrypt mail to the encrypt-only transport",
    "postfix tls policy map": r"smtp_tls_policy_maps asks the TLS policy service \(socketmap:unix:/",
    "resolver": r"^127\.0\.0\.1:\d+ answers with DNSSEC validation \(AD\)$",
    "store": r"^sqlite /.*meta\.db opens and takes a write lock$",
    "address key": r"address\.key \(owner root:root, mode 0600\) matches the store's fingerprint$",
    "dkim": rf"^{DOMAIN} selector {SELECTOR} ed25519-sha256: {SELECTOR}\._domainkey\.{DOMAIN} publishes this key$",
    "summary smtp": r"^127\.0\.0\.1:\d+ answers EHLO; no TLS: the server does not offer STARTTLS \(tls = opportunistic\)$",
    "delivery log": r"maillog last written \d+ (s|min) ago; ",
    "scanners": r"^not needed: neither virus nor spam is in \[pipeline\] filters$",
    "mta-sts": r"^not published: \[mta_sts\] mx is not set",
}


def assert_all_ok_but(lines: dict[str, list[dict]], failing: str | None = None) -> None:
    assert set(lines) == set(EXPECTED_OK), sorted(lines)
    for check, pattern in EXPECTED_OK.items():
        if check == failing:
            continue
        [line] = lines[check]
        assert line["status"] == "ok", line
        assert re.search(pattern, line["text"]), (check, line["text"])


def test_a_correct_set_up_is_all_ok(site: Site) -> None:
    code, lines = site.doctor()
    assert_all_ok_but(lines)
    assert code == 0


def test_without_the_daemon_everything_else_is_still_checked(site: Site) -> None:
    site.milter.stop()
    try:
        code, lines = site.doctor()
    finally:
        _start_daemon(site.milter)
    # The stopped daemon leaves its socket file (Postfix then gets "connection refused").
    [line] = lines["milter answers"]
    assert line["status"] == "fail", line
    assert line["text"] == (f"unix:{site.milter.socket_path}: cannot connect (Connection refused): the daemon is "
                            "not running"), line
    assert line["fix"] == "systemctl start privacy-milter; journalctl -u privacy-milter"
    assert_all_ok_but(lines, failing="milter answers")
    assert code == 2


def _swap_key(site: Site) -> Callable[[], None]:
    key = site.milter.key_path
    original = key.read_bytes()
    key.write_bytes(secrets.token_bytes(32))
    return lambda: key.write_bytes(original)


def _chmod(path: Path, mode: int) -> Callable[[], None]:
    old = path.stat().st_mode & 0o7777
    os.chmod(path, mode)
    return lambda: os.chmod(path, old)


def _chown_group(path: Path, gid: int) -> Callable[[], None]:
    old = path.stat().st_gid
    os.chown(path, -1, gid)
    return lambda: os.chown(path, -1, old)


def _postconf(site: Site, name: str, value: str) -> Callable[[], None]:
    old = site.pf.postconf_value(name)
    site.pf.postconf(**{name: value})
    return lambda: site.pf.postconf(**{name: old})


# (check that fails, how to plant its cause, the policy edit if any, what the line must say)
PLANTS: dict[str, tuple[str, Callable[[Site], Callable[[], None]], Callable[[str], str], str]] = {
    "missing macro line": ("postfix macros", lambda s: _postconf(s, "milter_rcpt_macros", ""), str,
                           r"^milter_rcpt_macros lacks i \{rcpt_addr\} \{rcpt_host\} \{rcpt_mailer\}: "),
    "wrong socket group": ("milter socket", lambda s: _chown_group(s.milter.socket_path, 0), str,
                           r"\(mode 0660, owner root:root\): Postfix \(user postfix, groups [^)]*\) cannot write"),
    "dead resolver": ("resolver", lambda s: (lambda: None),
                      lambda t: re.sub(r"nameserver_port = \d+", f"nameserver_port = {free_port()}", t),
                      r"^\[tls_policy\] nameserver 127\.0\.0\.1:\d+ (did not answer within 2s|answered SERVFAIL)"),
    "world-readable key": ("address key", lambda s: _chmod(s.milter.key_path, 0o644), str,
                           r"address\.key is readable or writable by group or others \(mode 0644\)"),
    "unreachable smtp": ("summary smtp", lambda s: (lambda: None),
                         lambda t: re.sub(r"\[smtp\]\nhost = \"127.0.0.1\"\nport = \d+",
                                          f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}', t),
                         r"^\[smtp\] cannot reach 127\.0\.0\.1:\d+: ConnectionRefusedError"),
    "store key mismatch": ("address key", _swap_key, str,
                           r"is not the key the store was created with \(fingerprints differ\)"),
    "localhost host name": ("host name", lambda s: _postconf(s, "myhostname", "localhost"), str,
                            r"Postfix's myhostname \"localhost\" is a placeholder"),
}


def _write(path: Path, text: str) -> Callable[[], None]:
    old = path.read_text()
    path.write_text(text)
    return lambda: path.write_text(old)


def _no_encrypt_service(site: Site) -> Callable[[], None]:
    etc = str(site.pf.etc_dir)
    subprocess.run([POSTCONF, "-c", etc, "-MX", "privacy-encrypt/unix"], check=True, timeout=30)

    def restore() -> None:
        for args in (("-M", "privacy-encrypt/unix=privacy-encrypt unix - - n - - smtp"),
                     ("-P", "privacy-encrypt/unix/smtp_tls_security_level=encrypt")):
            subprocess.run([POSTCONF, "-c", etc, *args], check=True, timeout=30)
    return restore


def _not_validating(site: Site) -> Callable[[], None]:
    site.stub.insecure(".")
    return lambda: site.stub.secure(".")


def _other_dkim_record(site: Site) -> Callable[[], None]:
    name = f"{SELECTOR}._domainkey.{DOMAIN}"
    other = site.root / f"other-{secrets.token_hex(3)}"
    other.mkdir()
    _, record = keygen(DOMAIN, SELECTOR, "ed25519-sha256", other)

    def publish(text: str) -> None:
        site.stub.remove(name, "TXT")
        site.stub.add(name, "TXT", f'"{text}"')
    publish(record)
    return lambda: publish(site.dkim_record)


PLANTS.update({
    "transport missing": ("encrypt-only transport", _no_encrypt_service, str,
                          r"^master\.cf has no privacy-encrypt unix service: flagged mail routed to it stays deferred$"),
    "header check bypasses the relay": (
        "flagged-mail route", lambda s: _write(s.root / "header-checks.regexp",
                                               "/^X-Privacy-Encrypt:/ FILTER privacy-encrypt:\n"), str,
        r"^Postfix relays through \[127\.0\.0\.1\]:\d+, but .* sends flagged mail with 'FILTER privacy-encrypt:', "
        r"not 'FILTER privacy-encrypt:\[127\.0\.0\.1\]:\d+': flagged mail would bypass the relay"),
    "resolver without AD": ("resolver", _not_validating, str,
                            r"answers without the AD bit: it does not validate DNSSEC, so DANE \(dane = true\) can never apply"),
    "another key published": ("dkim", _other_dkim_record, str,
                              rf"^mismatch: {DOMAIN} selector {SELECTOR} ed25519-sha256: {SELECTOR}\._domainkey\."
                              rf"{DOMAIN} publishes a different public key than "),
    "milter not listed for sendmail": ("postfix milters", lambda s: _postconf(s, "non_smtpd_milters", ""), str,
                                       r"^non_smtpd_milters do not list unix:/.*: mail sent with sendmail is never "
                                       r"checked$"),
})


@pytest.mark.parametrize("plant", PLANTS)
def test_a_planted_cause_fails_its_own_check(site: Site, plant: str) -> None:
    check, make, edit, pattern = PLANTS[plant]
    restore = make(site)
    try:
        code, lines = site.doctor(edit(site.policy_text))
    finally:
        restore()
    [line] = lines[check]
    assert line["status"] == "fail", line
    assert re.search(pattern, line["text"]), line["text"]
    assert line["fix"], line
    assert_all_ok_but(lines, failing=check)
    assert code == 2
