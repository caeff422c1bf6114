"""The harness itself on real servers: Postfix relays to the sink, plain and with STARTTLS,
logs queue ids, reloads, takes mail from the sendmail command and from authenticated clients."""

from __future__ import annotations

import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness.noop_milter import NoopMilterProcess
from tests.harness.sink import Sink

pytestmark = pytest.mark.postfix


def message(body: str = "hello", subject: str = "harness", sender: str = "alice@shop.example",
            to: str = "bob@far.example") -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, subject
    m.set_content(body)
    return m.as_bytes()


def send(port: int, raw: bytes, *, sender: str = "alice@shop.example", rcpts=("bob@far.example",),
         tls: ssl.SSLContext | None = None, login: tuple[str, str] | None = None) -> str:
    """One message over SMTP; the queue id from Postfix's 250 reply."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as c:
        c.ehlo("client.test")
        if tls is not None:
            c.starttls(context=tls)
            c.ehlo("client.test")
        if login is not None:
            c.login(*login)
        c.mail(sender)
        for r in rcpts:
            code, text = c.rcpt(r)
            assert code == 250, (code, text)
        code, text = c.data(raw)
        assert code == 250, (code, text)
        return text.decode().rsplit(" ", 1)[-1]


def test_plain_relay_and_queue_id_in_maillog(postfix_factory, sink):
    pf = postfix_factory(relay_port=sink.port)
    queue_id = send(pf.smtpd_port, message("plain body"))
    (got,) = sink.wait_for(1, timeout=20)
    assert b"plain body" in got.raw and got.rcpt_tos == ("bob@far.example",)
    assert got.mail_from == "alice@shop.example" and not got.tls
    pf.wait_for_log(rf"{queue_id}: to=<bob@far.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:{sink.port}.*status=sent")
    assert re.search(rf"{queue_id}: client=localhost\[127\.0\.0\.1\]", pf.maillog())


def test_starttls_in_and_out(postfix_factory, tls_sink, certs):
    pf = postfix_factory(relay_port=tls_sink.port, tls_cert=certs.cert_file, tls_key=certs.key_file)
    ctx = certs.client_context()  # verifies the chain and 127.0.0.1 against the trustme CA
    send(pf.smtpd_port, message("over tls"), tls=ctx)
    (got,) = tls_sink.wait_for(1, timeout=20)
    assert got.tls and got.tls_version == "TLSv1.3" and got.cipher
    log = pf.wait_for_log(r"TLS connection established to 127\.0\.0\.1").string
    assert "TLS connection established from localhost[127.0.0.1]: TLSv1.3" in log


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_with_starttls(postfix_factory, sink, certs):
    pf = postfix_factory(relay_port=sink.port, tls_cert=certs.cert_file, tls_key=certs.key_file)
    out = subprocess.run(["swaks", "--server", f"127.0.0.1:{pf.smtpd_port}", "--tls",
                          "--from", "alice@shop.example", "--to", "carol@far.example",
                          "--helo", "swaks.test", "--body", "swaks body"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    (got,) = sink.wait_for(1, timeout=20)
    assert b"swaks body" in got.raw


def test_two_instances_and_reload(postfix_factory, sink):
    a = postfix_factory(relay_port=sink.port)
    b = postfix_factory(relay_port=sink.port)
    assert a.smtpd_port != b.smtpd_port and a.base_dir != b.base_dir
    send(a.smtpd_port, message("from a"))
    send(b.smtpd_port, message("from b"))
    bodies = b"".join(m.raw for m in sink.wait_for(2, timeout=20))
    assert b"from a" in bodies and b"from b" in bodies
    b.postconf(smtpd_banner="$myhostname ESMTP reloaded")
    b.reload()
    with smtplib.SMTP("127.0.0.1", b.smtpd_port, timeout=10) as c:
        code, banner = c.ehlo()  # a fresh smtpd process after the reload
        assert code == 250
        c.docmd("NOOP")
    with smtplib.SMTP(timeout=10) as c:
        code, text = c.connect("127.0.0.1", b.smtpd_port)
        assert b"reloaded" in text


def test_milter_switched_on_and_off_by_reload(postfix_factory, sink):
    sock_dir = Path(tempfile.mkdtemp(prefix="pm-noop-"))
    os.chmod(sock_dir, 0o755)
    try:
        with NoopMilterProcess(sock_dir / "noop.sock") as noop:
            pf = postfix_factory(relay_port=sink.port)
            pf.set_milter(noop.spec)
            assert pf.postconf_value("smtpd_milters") == noop.spec
            send(pf.smtpd_port, message("through the noop milter"))
            sink.wait_for(1, timeout=20)
        # milter gone, default action tempfail: refused with 4xx, never delivered unchecked
        with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=30) as c:
            with pytest.raises(smtplib.SMTPException) as info:
                c.sendmail("alice@shop.example", ["bob@far.example"], message("unchecked"))
        err = info.value
        codes = ([code for code, _ in err.recipients.values()] if isinstance(err, smtplib.SMTPRecipientsRefused)
                 else [err.smtp_code])  # type: ignore[attr-defined]
        assert all(400 <= code < 500 for code in codes), codes
        pf.set_milter(None)
        send(pf.smtpd_port, message("milter off"))
        assert len(sink.wait_for(2, timeout=20)) == 2
    finally:
        shutil.rmtree(sock_dir, ignore_errors=True)


def test_sendmail_command(postfix_factory, sink):
    pf = postfix_factory(relay_port=sink.port)
    pf.sendmail(message("from cron"), "www-data@shop.example", ["ops@far.example"])
    (got,) = sink.wait_for(1, timeout=20)
    assert got.mail_from == "www-data@shop.example" and b"from cron" in got.raw
    assert re.search(r"postfix/pickup\[\d+\]: \w+: uid=0 from=<www-data@shop.example>", pf.maillog())


def test_authenticated_submission(postfix_factory, sink, certs):
    pf = postfix_factory(relay_port=sink.port, submission=True, mynetworks="127.0.0.254/32",
                         tls_cert=certs.cert_file, tls_key=certs.key_file)
    login = pf.add_sasl_user("alice", "correct horse")
    ctx = certs.client_context()
    # port 25 (smtpd_port): not in mynetworks, so relaying is refused
    with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=30) as c:
        c.ehlo("client.test")
        c.mail("alice@shop.example")
        code, _ = c.rcpt("bob@far.example")
        assert code == 554
    # submission: without AUTH refused, with AUTH relayed
    with smtplib.SMTP("127.0.0.1", pf.submission_port, timeout=30) as c:
        c.ehlo("client.test")
        c.starttls(context=ctx)
        c.ehlo("client.test")
        assert set(c.esmtp_features["auth"].split()) == {"PLAIN", "LOGIN"}
        with pytest.raises(smtplib.SMTPAuthenticationError):
            c.login(login, "wrong")
    send(pf.submission_port, message("authenticated"), tls=ctx, login=(login, "correct horse"))
    (got,) = sink.wait_for(1, timeout=20)
    assert b"authenticated" in got.raw
    assert re.search(r"postfix/submission/smtpd\[\d+\]: \w+: client=localhost\[127\.0\.0\.1\], "
                     r"sasl_method=(PLAIN|LOGIN), sasl_username=alice@harness\.test", pf.maillog())


def test_hold_queue_and_release(postfix_factory, sink, tmp_path):
    checks = tmp_path / "header_checks"
    checks.write_text("/^Subject: hold me/ HOLD test\n")
    pf = postfix_factory(relay_port=sink.port, extra_main={"header_checks": f"regexp:{checks}"})
    queue_id = send(pf.smtpd_port, message(subject="hold me"))
    pf.wait_for_log(rf"{queue_id}: hold: header Subject: hold me")
    assert pf.queue_ids_on_hold() == [queue_id] == pf.hold_queue()
    assert "hold me" in pf.postcat(queue_id)
    assert sink.messages == []
    pf.release(queue_id)
    pf.flush()
    sink.wait_for(1, timeout=20)
    assert pf.queue_ids_on_hold() == []


def test_own_resolv_conf_in_a_mount_namespace(postfix_factory, sink, tmp_path):
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.77\n")
    os.chmod(tmp_path, 0o755)
    pf = postfix_factory(relay_port=sink.port, resolv_conf=resolv)
    pid = pf.master_pid
    assert pid is not None
    assert Path(f"/proc/{pid}/root/etc/resolv.conf").read_text() == "nameserver 127.0.0.77\n"
    assert Path("/etc/resolv.conf").read_text() != "nameserver 127.0.0.77\n"  # the host is untouched
    send(pf.smtpd_port, message("namespaced"))
    sink.wait_for(1, timeout=20)


def test_start_failure_shows_the_maillog(postfix_factory, sink):
    pf = postfix_factory(relay_port=sink.port, start=False, extra_main={"smtpd_tls_security_level": "bogus"})
    with pytest.raises(RuntimeError) as info:
        pf.start(timeout=10)
    assert "maillog tail" in str(info.value)
    assert not pf.running()


def test_sink_can_require_starttls(certs):
    with Sink(tls_cert=str(certs.cert_file), tls_key=str(certs.key_file), require_starttls=True) as s:
        with smtplib.SMTP("127.0.0.1", s.port, timeout=10) as c:
            c.ehlo("client.test")
            code, _ = c.mail("a@shop.example")
            assert code == 530
            c.starttls(context=certs.client_context())
            c.ehlo("client.test")
            c.sendmail("a@shop.example", ["b@far.example"], b"Subject: t\r\n\nsecret\r\n")
        (got,) = s.wait_for(1, timeout=5)
        assert got.tls and got.peer and got.peer[0] == "127.0.0.1" and got.helo == "client.test"


def test_sink_refusal_defers_and_flush_retries(postfix_factory, sink):
    pf = postfix_factory(relay_port=sink.port)
    sink.data_reply = "451 4.3.0 try again later"
    queue_id = send(pf.smtpd_port, message("deferred once"))
    pf.wait_for_log(rf"{queue_id}: .*status=deferred")
    assert sink.messages == [] and len(sink.refused) == 1
    sink.data_reply = "250 2.0.0 OK sink"
    pf.flush()
    sink.wait_for(1, timeout=20)


def _inet_services(pf) -> list[str]:
    """The inet listeners of an instance's master.cf, as Postfix itself parses it (postconf -M)."""
    out = pf._run(["/usr/sbin/postconf", "-c", str(pf.etc_dir), "-M"]).stdout.decode()
    return [f.split()[0] for f in out.splitlines() if len(f.split()) > 1 and f.split()[1] == "inet"]


def test_master_cf_never_copies_the_hosts_listeners(postfix_factory, sink, tmp_path, monkeypatch):
    # A host whose admin added a submission service and another listener: before, the harness
    # copied /etc/postfix/master.cf and every instance started a second listener on 587.
    fake = tmp_path / "master.cf"
    fake.write_text("smtp inet n - y - - smtpd\n"
                    "submission inet n - y - - smtpd\n  -o syslog_name=postfix/submission\n"
                    "127.0.0.1:10587 inet n - y - - smtpd\n"
                    "pickup unix n - y 60 1 pickup\n")
    from tests.harness import postfix as harness_postfix
    monkeypatch.setattr(harness_postfix, "SYSTEM_MASTER_CF", fake, raising=False)
    plain = postfix_factory(relay_port=sink.port, start=False)
    sub = postfix_factory(relay_port=sink.port, submission=True, start=False)
    for pf, own in ((plain, [f"127.0.0.1:{plain.smtpd_port}"]),
                    (sub, [f"127.0.0.1:{sub.smtpd_port}", f"127.0.0.1:{sub.submission_port}"])):
        text = (pf.etc_dir / "master.cf").read_text()
        assert "submission inet" not in text and "10587" not in text
        assert sorted(_inet_services(pf)) == sorted(own)
    # started (only once the listeners are known to be ours), it relays: the template holds
    # every service mail needs
    sub.start()
    send(sub.smtpd_port, message("template master.cf"))
    (got,) = sink.wait_for(1, timeout=20)
    assert b"template master.cf" in got.raw
