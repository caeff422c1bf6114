"""A throwaway Postfix instance on loopback: own config, queue and data directories, own log file.

    pf = PostfixInstance(dir, relay_port=sink.port, milter="unix:/run/x.sock").start()
    ... smtplib.SMTP("127.0.0.1", pf.smtpd_port) ...
    pf.stop()

Facts it relies on (see /work/shared/NOTES-postfix.md): `postfix -c DIR/etc start` with a
master.cf whose chroot column is `n`, `maillog_file` inside `maillog_file_prefixes`
(otherwise start-up fails silently into syslog), data_directory owned by user postfix.
Readiness is the SMTP banner read on the port, never a sleep. Root only.
"""

from __future__ import annotations

import atexit
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from collections.abc import Iterable, Mapping

from .ports import free_port

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
POSTQUEUE = "/usr/sbin/postqueue"
POSTSUPER = "/usr/sbin/postsuper"
POSTCAT = "/usr/sbin/postcat"
SENDMAIL = "/usr/sbin/sendmail"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"

# The internal services of a throwaway instance, written from this fixed list and never
# copied from /etc/postfix/master.cf: a copy brought along every listener the host's admin
# added (a submission service on 587 became a second listener of every test instance).
# Debian 12's stock services minus the pipe(8) examples, chroot column "n" (our queue is not
# a jail); the one inet listener (smtpd, and submission when asked for) is added per instance.
# Columns: service type private unpriv chroot wakeup maxproc command.
MASTER_CF_SERVICES: tuple[str, ...] = (
    "pickup     unix  n - n 60    1 pickup",
    "cleanup    unix  n - n -     0 cleanup",
    "qmgr       unix  n - n 300   1 qmgr",
    "tlsmgr     unix  - - n 1000? 1 tlsmgr",
    "rewrite    unix  - - n -     - trivial-rewrite",
    "bounce     unix  - - n -     0 bounce",
    "defer      unix  - - n -     0 bounce",
    "trace      unix  - - n -     0 bounce",
    "verify     unix  - - n -     1 verify",
    "flush      unix  n - n 1000? 0 flush",
    "proxymap   unix  - - n -     - proxymap",
    "proxywrite unix  - - n -     1 proxymap",
    "smtp       unix  - - n -     - smtp",
    "relay      unix  - - n -     - smtp",
    "  -o syslog_name=postfix/$service_name",
    "showq      unix  n - n -     - showq",
    "error      unix  - - n -     - error",
    "retry      unix  - - n -     - error",
    "discard    unix  - - n -     - discard",
    "local      unix  - n n -     - local",
    "virtual    unix  - n n -     - virtual",
    "lmtp       unix  - - n -     - lmtp",
    "anvil      unix  - - n -     1 anvil",
    "scache     unix  - - n -     1 scache",
    "postlog    unix-dgram n - n - 1 postlogd",
)

START_TIMEOUT = 30.0
STOP_TIMEOUT = 20.0
CMD_TIMEOUT = 60.0

MILTER_MACROS = {
    "milter_connect_macros": "j {daemon_name} {daemon_port} {client_addr} {client_name} v",
    "milter_helo_macros": "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}",
    "milter_mail_macros": "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}",
    "milter_rcpt_macros": "i {rcpt_addr} {rcpt_host} {rcpt_mailer}",
    "milter_data_macros": "i",
    "milter_end_of_header_macros": "i",
    "milter_end_of_data_macros": "i",
}

# Every instance started and not yet stopped: stopped at interpreter exit as a last resort.
_running: set["PostfixInstance"] = set()
_running_lock = threading.Lock()


def _stop_all_at_exit() -> None:
    with _running_lock:
        left = list(_running)
    for inst in left:
        try:
            inst.stop()
        except Exception:  # best effort at exit; nothing left to report to
            pass


atexit.register(_stop_all_at_exit)


class PostfixError(RuntimeError):
    """A Postfix command or start-up failed; the message carries the diagnostics."""


class PostfixInstance:
    """One Postfix under `base_dir`: etc/ (main.cf, master.cf, sasl/), queue/, data/, maillog.

    smtpd listens on 127.0.0.1:`smtpd_port` (picked free when None). With `submission=True`
    a second smtpd on 127.0.0.1:`submission_port` requires SMTP AUTH (Cyrus SASL, sasldb in
    the instance dir; add users with `add_sasl_user`) and marks clients with
    `milter_macro_daemon_name = ORIGINATING`.
    """

    def __init__(self, base_dir: Path | str, *, relay_port: int, smtpd_port: int | None = None,
                 milter: str | None = None, mynetworks: str = "127.0.0.1/32",
                 relay_domains: str | Iterable[str] = "", tls_cert: Path | str | None = None,
                 tls_key: Path | str | None = None, extra_main: Mapping[str, str] | None = None,
                 resolv_conf: Path | str | None = None, submission: bool = False,
                 submission_port: int | None = None, myhostname: str = "mx.harness.test",
                 sasl_realm: str = "harness.test") -> None:
        self.base_dir = Path(base_dir).resolve()
        self.relay_port = relay_port
        self.smtpd_port = smtpd_port or free_port()
        self.submission = submission
        self.submission_port = (submission_port or free_port()) if submission else None
        self.milter = milter
        self.mynetworks = mynetworks
        self.relay_domains = relay_domains if isinstance(relay_domains, str) else ", ".join(relay_domains)
        self.tls_cert = Path(tls_cert) if tls_cert else None
        self.tls_key = Path(tls_key) if tls_key else None
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together")
        self.extra_main = dict(extra_main or {})
        self.resolv_conf = Path(resolv_conf) if resolv_conf else None
        self.myhostname = myhostname
        self.sasl_realm = sasl_realm
        self.etc_dir = self.base_dir / "etc"
        self.queue_dir = self.base_dir / "queue"
        self.data_dir = self.base_dir / "data"
        # Debian's Postfix looks for smtpd.conf in $config_directory/sasl whatever
        # cyrus_sasl_config_path says; upstream uses the parameter. Both point here.
        self.sasl_dir = self.etc_dir / "sasl"
        self.sasldb = self.sasl_dir / "sasldb2"
        self.maillog_path = self.base_dir / "maillog"
        self._started = False
        self._write_config()

    # --- configuration --------------------------------------------------------------------
    def main_cf_settings(self) -> dict[str, str]:
        s: dict[str, str] = {
            "compatibility_level": "3.6",
            "queue_directory": str(self.queue_dir),
            "data_directory": str(self.data_dir),
            "maillog_file": str(self.maillog_path),
            "maillog_file_prefixes": str(self.base_dir),
            "myhostname": self.myhostname,
            "mydomain": "harness.test",
            "myorigin": "$myhostname",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "mydestination": "",
            "mynetworks": self.mynetworks,
            "relay_domains": self.relay_domains,
            "relayhost": f"[127.0.0.1]:{self.relay_port}",
            "disable_dns_lookups": "yes",
            "smtp_host_lookup": "native",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "smtpd_banner": "$myhostname ESMTP harness",
            "smtpd_relay_restrictions": "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination",
            # Outbound: STARTTLS when the sink offers it (a plain sink does not).
            "smtp_tls_security_level": "may",
            "smtp_tls_loglevel": "1",
            "milter_default_action": "tempfail",
            # As deploy/postfix/main.cf: never convert 8-bit bodies to quoted-printable for a
            # server without 8BITMIME (that would break DKIM signatures made here).
            "disable_mime_output_conversion": "yes",
            "milter_protocol": "6",
            **MILTER_MACROS,
        }
        if self.tls_cert:
            s.update({
                "smtpd_tls_security_level": "may",
                "smtpd_tls_chain_files": f"{self.tls_key}, {self.tls_cert}",
                "smtpd_tls_loglevel": "1",
                "smtpd_tls_received_header": "yes",
            })
        if self.milter:
            s.update({"smtpd_milters": self.milter, "non_smtpd_milters": self.milter})
        if self.submission:
            s.update({
                "cyrus_sasl_config_path": str(self.sasl_dir),
                "smtpd_sasl_type": "cyrus",
                "smtpd_sasl_path": "smtpd",
                "smtpd_sasl_local_domain": self.sasl_realm,
            })
        s.update(self.extra_main)
        return s

    def _master_cf(self) -> str:
        """master.cf from MASTER_CF_SERVICES: the only listeners are this instance's own ports."""
        out = ["# written by tests/harness/postfix.py from a fixed template (never the host's master.cf)",
               f"127.0.0.1:{self.smtpd_port} inet n - n - - smtpd", *MASTER_CF_SERVICES]
        if self.submission:
            opts = [
                "syslog_name=postfix/submission",
                "smtpd_sasl_auth_enable=yes",
                "smtpd_client_restrictions=permit_sasl_authenticated,reject",
                "smtpd_relay_restrictions=permit_sasl_authenticated,reject",
                "smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
                "milter_macro_daemon_name=ORIGINATING",
            ]
            out.append(f"127.0.0.1:{self.submission_port} inet n - n - - smtpd")
            out.extend(f"  -o {o}" for o in opts)
        return "\n".join(out) + "\n"

    def _write_config(self) -> None:
        for d in (self.base_dir, self.etc_dir, self.queue_dir, self.data_dir):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o755)
        pw = pwd.getpwnam("postfix")
        os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        (self.etc_dir / "main.cf").write_text(
            "# written by tests/harness/postfix.py\n"
            + "".join(f"{k} = {v}\n" for k, v in self.main_cf_settings().items()))
        (self.etc_dir / "master.cf").write_text(self._master_cf())
        self.maillog_path.touch()
        if self.submission:
            self._write_sasl_config()

    def _write_sasl_config(self) -> None:
        self.sasl_dir.mkdir(exist_ok=True)
        os.chmod(self.sasl_dir, 0o755)
        (self.sasl_dir / "smtpd.conf").write_text(
            "pwcheck_method: auxprop\nauxprop_plugin: sasldb\n"
            f"sasldb_path: {self.sasldb}\nmech_list: PLAIN LOGIN\n")

    def add_sasl_user(self, user: str, password: str) -> str:
        """Create (or replace) a SASL user; return the login name to use (`user@realm`)."""
        if not self.submission:
            raise PostfixError("add_sasl_user needs PostfixInstance(..., submission=True)")
        self._run([SASLPASSWD2, "-f", str(self.sasldb), "-u", self.sasl_realm, "-c", "-p", user],
                  input_=password.encode())
        pw = pwd.getpwnam("postfix")
        os.chown(self.sasldb, pw.pw_uid, pw.pw_gid)  # smtpd reads it as user postfix
        os.chmod(self.sasldb, 0o640)
        return f"{user}@{self.sasl_realm}"

    # --- commands -------------------------------------------------------------------------
    def _run(self, argv: list[str], input_: bytes | None = None, check: bool = True,
             timeout: float = CMD_TIMEOUT) -> subprocess.CompletedProcess[bytes]:
        proc = subprocess.run(argv, input=input_, capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise PostfixError(
                f"{shlex.join(argv)} exited {proc.returncode}:\n{proc.stdout.decode(errors='replace')}"
                f"{proc.stderr.decode(errors='replace')}\n--- maillog tail ---\n{self.maillog_tail()}")
        return proc

    def _postfix(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        return self._run([POSTFIX, "-c", str(self.etc_dir), *args], check=check)

    def postconf(self, **settings: str) -> None:
        """`postconf -c DIR/etc -e name=value ...`; call reload() for a running instance to see it."""
        if not settings:
            return
        self.extra_main.update(settings)
        self._run([POSTCONF, "-c", str(self.etc_dir), "-e", *(f"{k}={v}" for k, v in settings.items())])

    def postconf_value(self, name: str) -> str:
        out = self._run([POSTCONF, "-c", str(self.etc_dir), "-h", name]).stdout.decode()
        return out.strip()

    def check(self) -> str:
        """`postfix -c DIR/etc check` output (warnings included); never raises."""
        p = self._postfix("check", check=False)
        return (p.stdout + p.stderr).decode(errors="replace")

    # --- life cycle -----------------------------------------------------------------------
    @property
    def master_pid(self) -> int | None:
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def running(self) -> bool:
        pid = self.master_pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    def start(self, timeout: float = START_TIMEOUT) -> "PostfixInstance":
        cmd = [POSTFIX, "-c", str(self.etc_dir), "start"]
        if self.resolv_conf:
            inner = (f"mount --bind {shlex.quote(str(self.resolv_conf))} /etc/resolv.conf && "
                     + shlex.join(cmd))
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", inner]
        log_offset = len(self.maillog())
        proc = subprocess.run(cmd, capture_output=True, timeout=CMD_TIMEOUT)
        with _running_lock:
            _running.add(self)
        self._started = True
        if proc.returncode != 0:
            self._fail_start(f"{shlex.join(cmd)} exited {proc.returncode}:\n"
                             f"{(proc.stdout + proc.stderr).decode(errors='replace')}")
        ports = [self.smtpd_port] + ([self.submission_port] if self.submission_port else [])
        deadline = time.monotonic() + timeout
        for port in ports:
            self._wait_banner(port, deadline, log_offset)
        return self

    def _wait_banner(self, port: int | None, deadline: float, log_offset: int) -> None:
        assert port is not None
        last: Exception | None = None
        while time.monotonic() < deadline:
            # A daemon that dies on its configuration logs "fatal:" and the master retries
            # it forever: fail at once instead of waiting out the deadline.
            if fatal := re.search(r"^.*(?:fatal|panic): .*$", self.maillog()[log_offset:], re.M):
                self._fail_start(f"a daemon failed: {fatal.group(0)}")
            if not self.running():
                self._fail_start("the master process is not running")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=2.0) as s:
                    s.settimeout(1.0)  # short: a throttled service holds the connection silently
                    banner = s.recv(512)
                    if banner.startswith(b"220"):
                        s.sendall(b"QUIT\r\n")
                        return
                    last = RuntimeError(f"unexpected banner {banner!r}")
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        self._fail_start(f"no SMTP banner on 127.0.0.1:{port} ({last})")

    def _fail_start(self, why: str) -> None:
        diag = self.check()
        self.stop()
        raise PostfixError(f"Postfix in {self.base_dir} did not start: {why}\n"
                           f"--- postfix check ---\n{diag}\n--- maillog tail ---\n{self.maillog_tail()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop like `postfix stop` and wait for the master to exit; kill it if it will not. Idempotent."""
        with _running_lock:
            _running.discard(self)
        if not self._started:
            return
        self._started = False
        pid = self.master_pid
        if pid is None or not self.running():
            return
        # What `postfix stop` does, without postfix-script's second of checks: SIGTERM to
        # the master, which logs "terminating on signal 15" and takes its children down.
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        self._postfix("abort", check=False)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "PostfixInstance":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reload(self, timeout: float = 20.0) -> None:
        """`postfix reload`; returns when the master logged the reload (new processes see the change)."""
        before = self.maillog().count("reload -- version")
        self._postfix("reload")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.maillog().count("reload -- version") > before:
                return
            time.sleep(0.05)
        raise PostfixError(f"no reload line in the maillog within {timeout}s\n{self.maillog_tail()}")

    def set_milter(self, spec: str | None) -> None:
        """Attach (`unix:/path`, `inet:host:port`) or detach (None) the milter, then reload."""
        self.milter = spec
        self.postconf(smtpd_milters=spec or "", non_smtpd_milters=spec or "")
        if self.running():
            self.reload()

    # --- logs -----------------------------------------------------------------------------
    def maillog(self) -> str:
        try:
            return self.maillog_path.read_text(errors="replace")
        except OSError:
            return ""

    def maillog_tail(self, lines: int = 40) -> str:
        return "\n".join(self.maillog().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if m := regex.search(self.maillog()):
                return m
            if time.monotonic() >= deadline:
                raise AssertionError(f"no maillog line matching {pattern!r} within {timeout}s:\n"
                                     f"{self.maillog_tail()}")
            time.sleep(0.05)

    # --- queue ----------------------------------------------------------------------------
    def queue(self) -> list[dict]:
        """All queued messages, as `postqueue -j` objects (queue_name, queue_id, sender, recipients...)."""
        out = self._run([POSTQUEUE, "-c", str(self.etc_dir), "-j"]).stdout.decode()
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def queue_ids_on_hold(self) -> list[str]:
        return [e["queue_id"] for e in self.queue() if e.get("queue_name") == "hold"]

    hold_queue = queue_ids_on_hold

    def postcat(self, queue_id: str) -> str:
        """`postcat -q ID`: envelope, headers and body of a queued message."""
        return self._run([POSTCAT, "-c", str(self.etc_dir), "-q", queue_id]).stdout.decode(errors="replace")

    def release(self, queue_id: str) -> None:
        """Move a held message back to the active queue (`postsuper -H`)."""
        self._run([POSTSUPER, "-c", str(self.etc_dir), "-H", queue_id])

    def flush(self) -> None:
        """`postqueue -f`: try every deferred message now."""
        self._run([POSTQUEUE, "-c", str(self.etc_dir), "-f"])

    # --- local submission -----------------------------------------------------------------
    def sendmail(self, raw: bytes, sender: str, rcpts: Iterable[str]) -> None:
        """Submit through `/usr/sbin/sendmail -C DIR/etc` (postdrop, pickup: non_smtpd_milters)."""
        rcpt_list = list(rcpts)
        if not rcpt_list:
            raise ValueError("sendmail needs at least one recipient")
        self._run([SENDMAIL, "-C", str(self.etc_dir), "-i", "-f", sender, "--", *rcpt_list], input_=raw)

    def __repr__(self) -> str:
        return f"<PostfixInstance {self.base_dir} smtpd=127.0.0.1:{self.smtpd_port}>"


def remove_instance_dir(base_dir: Path | str) -> None:
    shutil.rmtree(base_dir, ignore_errors=True)
