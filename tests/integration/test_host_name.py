"""This host's one name on a host whose getfqdn() says `localhost` (issue 23, item 4).

The real-host condition: Debian's /etc/hosts maps the host name to 127.0.0.1 next to
`localhost`, so socket.getfqdn() says `localhost` while Postfix's myhostname says the real
name. The daemon and the CLI run here in their own UTS and mount namespaces (`unshare`):
host name `mx1`, and an /etc/hosts the test writes bind-mounted over the host's (which is
never touched). MAIL_CONFIG points postconf at the throwaway Postfix's own config dir,
whose myhostname is mx1.shop.example: the record's host, the Authentication-Results
authserv-id, the summary's From and its HELO must all say mx1.shop.example.
"""

from __future__ import annotations

import os
import shlex
import shutil
import smtplib
import sqlite3
import subprocess
import sys
import tempfile
from email import message_from_bytes, policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness.milter_process import START_TIMEOUT, VENV_BIN, MilterProcess

HOST = "mx1.shop.example"
ADMIN = "postmaster@hosting.example"
CMD_TIMEOUT = 60.0

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/sbin/postfix").exists(),
                                reason="needs root (unshare, mount) and Postfix")


def _hosts_file(directory: Path) -> Path:
    """Debian's /etc/hosts shape: the short host name on a loopback line, no FQDN."""
    path = directory / "hosts"
    path.write_text("127.0.0.1\tlocalhost\n127.0.1.1\tlocalhost mx1\n::1\tlocalhost ip6-localhost\n")
    os.chmod(path, 0o644)
    return path


def _in_localhost_namespace(hosts: Path, argv: list[str]) -> list[str]:
    """argv run with host name mx1 and `hosts` as /etc/hosts, in namespaces of its own
    (`exec`: the pid is the program's, so stopping it ends the namespaces too)."""
    inner = (f"mount --bind {shlex.quote(str(hosts))} /etc/hosts && hostname mx1 && "
             f"exec {shlex.join(argv)}")
    return ["unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", inner]


class LocalhostMilter(MilterProcess):
    """The daemon in the namespaces above; `mail_config` is the Postfix config dir postconf reads."""

    def __init__(self, base: Path, policy_text: str, hosts: Path) -> None:
        super().__init__(base, policy_text)
        self.hosts = hosts
        self.mail_config: Path | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"MAIL_CONFIG": str(self.mail_config)} if self.mail_config else {}

    @env.setter
    def env(self, value: object) -> None:  # MilterProcess.__init__ sets it; the property decides
        pass

    def start(self) -> "LocalhostMilter":
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed by MilterProcess.stop()
        argv = [str(VENV_BIN / "privacy-milter"), "run", "--policy", str(self.policy_path)]
        self.proc = subprocess.Popen(_in_localhost_namespace(self.hosts, argv), stdout=self._log,
                                     stderr=subprocess.STDOUT, env={**os.environ, **self.env})
        try:
            self.wait_for_log(r"privacy-milter ready on", START_TIMEOUT)
        except BaseException:
            self.stop()
            raise
        return self


def _run_here(hosts: Path, mail_config: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_in_localhost_namespace(hosts, argv), capture_output=True, text=True,
                          timeout=CMD_TIMEOUT, stdin=subprocess.DEVNULL,
                          env={**os.environ, "MAIL_CONFIG": str(mail_config)})


def test_getfqdn_says_localhost_in_the_namespace(tmp_path):
    """The condition itself: without it the tests below would prove nothing."""
    hosts = _hosts_file(tmp_path)
    done = _run_here(hosts, tmp_path, [sys.executable, "-c",
                                       "import socket; print(socket.gethostname(), socket.getfqdn())"])
    assert done.stdout.split() == ["mx1", "localhost"], done.stderr


POLICY = f"""
[network]
hosted_domains = ["shop.example"]
trusted_networks = []
[pipeline]
filters = ["dkim", "dlp", "tls"]
[summary]
recipients = ["{ADMIN}"]
"""


def test_record_authserv_id_and_summary_name_postfixs_myhostname(postfix_factory, sink, tmp_path):
    hosts = _hosts_file(tmp_path)
    root = Path(tempfile.mkdtemp(prefix="pm-hostname-"))  # not tmp_path: Postfix must reach the socket
    milter = LocalhostMilter(root, POLICY, hosts)
    pf = postfix_factory(relay_port=sink.port, milter=milter.spec, myhostname=HOST)
    milter.mail_config = pf.etc_dir   # the Postfix whose myhostname it is
    try:
        milter.start()
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = "someone@far.example", "alice@shop.example", "hello"
        msg.set_content("Hello Alice.\n")
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=30) as smtp:
            smtp.send_message(msg)
        (got,) = sink.wait_for(1, 30)
        parsed = message_from_bytes(got.raw, policy=email_policy.default)
        assert parsed["Authentication-Results"].startswith(f"{HOST};"), parsed["Authentication-Results"]
        # the summary, sent from the same kind of process, straight to the sink
        milter.policy_path.write_text(milter.policy_path.read_text() + f"[smtp]\nport = {sink.port}\n")
        sent = _run_here(hosts, pf.etc_dir, [str(VENV_BIN / "privacy-milter"), "summary", "--send",
                                             "--policy", str(milter.policy_path)])
        assert sent.returncode == 0, sent.stderr
        summary = sink.wait_for(2, 30)[1]
        assert summary.mail_from == f"privacy-milter@{HOST}" and summary.helo == HOST
        assert message_from_bytes(summary.raw, policy=email_policy.default)["From"] == f"privacy-milter@{HOST}"
        assert milter.stop() == 0     # SIGTERM writes the pending record
        with sqlite3.connect(milter.store_path) as db:
            hosts_stored = {row[0] for row in db.execute("SELECT host FROM messages")}
        assert hosts_stored == {HOST}
        assert f"host name: {HOST}" in milter.log()
    finally:
        milter.stop()
        shutil.rmtree(root, ignore_errors=True)
