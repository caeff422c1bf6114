"""Issue 23, item 2, on a real Postfix: with a relayhost (smarthost), flagged mail goes to the
relay over VERIFIED TLS and never straight to the recipient's MX.

The world (one per module):
- a DNS stub on PREFIX.77:53: relay.e2e.test → PREFIX.40 (the relay), far.e2e.test MX
  mx.far.e2e.test → PREFIX.25 (the recipient's own MX, which must never see flagged mail);
- the relay: an aiosmtpd sink with STARTTLS on PREFIX.40:P, its certificate from a trustme
  CA for relay.e2e.test; a second one on PREFIX.41:P with a certificate from another CA
  (the relay as an attacker on the path would present it);
- the recipient's MX: a STARTTLS sink on PREFIX.25:25 with a valid certificate;
- Postfix in its own mount namespace (resolv.conf → the stub), relayhost
  [relay.e2e.test]:P named by HOST NAME (Postfix cannot verify a certificate against a
  bare IP), the lines of deploy/postfix/main-relayhost.cf, master-relayhost.cf and
  privacy-milter-header-checks-relayhost.regexp (the relay substituted, the CA file the
  test CA), and the TLS policy map on the daemon's socket;
- the real `privacy-milter run`, whose [filters.tls] relayhost is the default "postfix":
  it reads the relay with postconf (MAIL_CONFIG → this Postfix's etc/).

The stock set-up (no relayhost) is tests/integration/test_tls_postfix.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import smtplib
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS

from tests.harness import smtp
from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import VENV_BIN
from tests.harness.ports import free_port
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import ReceivedMessage, Sink
from tests.integration.tls_e2e_helpers import (
    DEPLOY_POSTFIX,
    NamespacedMilter,
    copy_deploy_file,
    deferred_line,
    encrypt_transport_lines,
    pick_loopback_block,
    wait_until,
    write_leaf,
)

pytestmark = [pytest.mark.postfix, pytest.mark.timeout(180)]

RELAY, ROGUE, MX = 40, 41, 25
RELAY_NAME = "relay.e2e.test"
FAR = "far.e2e.test"
RCPT = f"bob@{FAR}"
SENDER = "alice@shop.example"
IBAN = "GB53 MIDL 4005 1571 2345 67"
TIMEOUT = 30.0
POLICY = """
[network]
trusted_networks = ["127.0.0.1/32"]
hosted_domains = ["shop.example"]
"""


@dataclass
class World:
    prefix: str
    relay_hop: str
    relay: Sink
    rogue: Sink
    mx: Sink
    stub: DnsStub
    milter: NamespacedMilter
    postfix: PostfixInstance

    def point_relay(self, host: int) -> None:
        self.stub.remove(RELAY_NAME, "A")
        self.stub.add(RELAY_NAME, "A", f"{self.prefix}{host}")


def relay_header_checks(directory: Path, hop: str) -> Path:
    """deploy/postfix/privacy-milter-header-checks-relayhost.regexp with our relay in it."""
    name = "privacy-milter-header-checks-relayhost.regexp"
    text = (DEPLOY_POSTFIX / name).read_text()
    assert "privacy-encrypt:[relay.example.net]:587" in text, "the shipped file changed shape"
    target = directory / name
    target.write_text(text.replace("[relay.example.net]:587", hop))
    target.chmod(0o644)
    return target


def main_relayhost_settings() -> dict[str, str]:
    """The active lines of deploy/postfix/main-relayhost.cf (name → value)."""
    out = {}
    for line in (DEPLOY_POSTFIX / "main-relayhost.cf").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    assert set(out) == {"relayhost", "milter_header_checks"}, out
    return out


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    prefix = pick_loopback_block((MX,), https_host=RELAY)
    root = harness_dir("relayhost-e2e")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        ca, rogue_ca = trustme.CA(organization_name="relay e2e"), trustme.CA(organization_name="somebody else")
        ca_file = root / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        ca_file.chmod(0o644)
        relay_cert, relay_key = write_leaf(ca.issue_cert(RELAY_NAME), root, "relay")
        rogue_cert, rogue_key = write_leaf(rogue_ca.issue_cert(RELAY_NAME), root, "rogue")
        mx_cert, mx_key = write_leaf(ca.issue_cert(f"mx.{FAR}"), root, "mx")

        stub = DnsStub(f"{prefix}77", 53).start()
        stack.callback(stub.stop)
        stub.add(".", "SOA", "a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400").secure(".")
        stub.add(RELAY_NAME, "A", f"{prefix}{RELAY}")
        stub.add(FAR, "MX", f"10 mx.{FAR}.")
        stub.add(f"mx.{FAR}", "A", f"{prefix}{MX}")
        resolv = stub.write_resolv_conf(root / "resolv.conf")
        resolv.chmod(0o644)

        port = free_port(f"{prefix}{RELAY}")
        relay = Sink(host=f"{prefix}{RELAY}", port=port, tls_cert=str(relay_cert), tls_key=str(relay_key),
                     hostname=RELAY_NAME).start()
        stack.callback(relay.stop)
        rogue = Sink(host=f"{prefix}{ROGUE}", port=port, tls_cert=str(rogue_cert), tls_key=str(rogue_key),
                     hostname=RELAY_NAME).start()
        stack.callback(rogue.stop)
        mx = Sink(host=f"{prefix}{MX}", port=25, tls_cert=str(mx_cert), tls_key=str(mx_key),
                  hostname=f"mx.{FAR}").start()
        stack.callback(mx.stop)
        hop = f"[{RELAY_NAME}]:{port}"

        milter = NamespacedMilter(root / "milter", POLICY,
                                  f'nameserver = "{prefix}77"\nnameserver_port = 53\ndns_timeout = 2.0\n'
                                  'probe_timeout = 3.0\nmta_sts = false\n',
                                  resolv_conf=resolv, ca_file=ca_file)
        strip = copy_deploy_file("privacy-milter-strip.regexp", root)
        settings = main_relayhost_settings()
        postfix = PostfixInstance(root / "postfix", relay_port=port, milter=milter.spec, resolv_conf=resolv,
                                  extra_main={
                                      "relayhost": settings["relayhost"].replace("[relay.example.net]:587", hop),
                                      "milter_header_checks": f"regexp:{relay_header_checks(root, hop)}",
                                      "disable_dns_lookups": "no",
                                      "smtp_host_lookup": "dns",
                                      "smtp_dns_support_level": "dnssec",
                                      "smtp_tls_security_level": "dane",
                                      "smtp_tls_policy_maps": f"socketmap:unix:{milter.tls_socket_path}:tlspolicy",
                                      "smtp_tls_loglevel": "1",
                                      "smtp_connect_timeout": "5s",
                                      # each message opens its own connection, so the DNS
                                      # switch in the rogue-relay test is seen at once
                                      "smtp_connection_cache_on_demand": "no",
                                      **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()},
                                  })
        with open(postfix.etc_dir / "master.cf", "a") as f:
            f.write(encrypt_transport_lines(strip, "master-relayhost.cf", ca_file))
        # The daemon asks this Postfix (not /etc/postfix) for its relayhost.
        milter.env = {"MAIL_CONFIG": str(postfix.etc_dir)}
        stack.callback(milter.stop)
        milter.start()
        stack.callback(postfix.stop)
        postfix.start()
        yield World(prefix, hop, relay, rogue, mx, stub, milter, postfix)


@pytest.fixture
def w(world: World) -> Iterator[World]:
    world.point_relay(RELAY)
    yield world
    assert world.milter.alive(), "the milter died during the test"


def message(marker: str, body: str = "Lunch on Friday?") -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, f"test {marker}"
    m.set_content(f"{body}\n\nmarker {marker}\n")
    return m.as_bytes()


def flagged(marker: str) -> bytes:
    return message(marker, f"Please pay to IBAN {IBAN}, thanks")


def arrived(sink: Sink, marker: str) -> ReceivedMessage:
    return wait_until(lambda: next((m for m in sink.messages if marker.encode() in m.raw), None), TIMEOUT,
                      f"{marker!r} at {sink.host}:{sink.port}")


def at(sink: Sink, marker: str) -> bool:
    return any(marker.encode() in m.raw for m in sink.messages + sink.refused)


def status_line(w: World, queue_id: str, status: str) -> str:
    return w.postfix.wait_for_log(rf"(?m)^.*postfix/[\w/-]+\[\d+\]: {queue_id}: to=<.*status={status} .*$",
                                  TIMEOUT).group(0)


def tls_line_before(w: World, line: str) -> str:
    proc = line.split(": ", 1)[0].rsplit(" ", 1)[-1]
    log = w.postfix.maillog()
    found = [ln for ln in log[:log.index(line)].splitlines()
             if ln.split(": ", 1)[0].endswith(proc) and f"TLS connection established to {RELAY_NAME}[" in ln]
    assert found, f"no TLS line from {proc} before:\n{line}\n{w.postfix.maillog_tail()}"
    return found[-1]


def facts_of(w: World, queue_id: str) -> dict[str, str]:
    def read() -> dict[str, str] | None:
        with contextlib.closing(sqlite3.connect(f"file:{w.milter.store_path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT facts FROM messages WHERE queue_id = ?", (queue_id,)).fetchone()
        return json.loads(row[0]) if row else None
    return wait_until(read, 10, f"the record of {queue_id}")


# --- the tests -------------------------------------------------------------------------------

def test_unflagged_mail_goes_through_the_relay(w: World) -> None:
    marker = f"plain-{time.monotonic_ns()}"
    queue_id = smtp.send(w.postfix.smtpd_port, message(marker), SENDER, [RCPT])
    arrived(w.relay, marker)
    assert f"relay={RELAY_NAME}[{w.prefix}{RELAY}]:" in status_line(w, queue_id, "sent")
    assert not at(w.mx, marker)


def test_flagged_mail_reaches_the_relay_over_verified_tls_never_the_mx(w: World) -> None:
    marker = f"flagged-{time.monotonic_ns()}"
    queue_id = smtp.send(w.postfix.smtpd_port, flagged(marker), SENDER, [RCPT])
    got = arrived(w.relay, marker)
    assert got.tls and got.rcpt_tos == (RCPT,)
    assert b"X-Privacy-Encrypt" not in got.raw and b"X-Privacy-DLP: iban=" in got.raw
    w.postfix.wait_for_log(rf"{queue_id}: milter-header-filter: header X-Privacy-Encrypt: .*: "
                           rf"privacy-encrypt:\[{RELAY_NAME}\]:{w.relay.port}")
    line = status_line(w, queue_id, "sent")
    assert "postfix/privacy-encrypt/smtp[" in line and f"relay={RELAY_NAME}[{w.prefix}{RELAY}]:" in line, line
    assert "Verified TLS connection established" in tls_line_before(w, line)
    assert not at(w.mx, marker), "flagged mail went straight to the recipient's MX"
    # The milter classified the relay (read from Postfix), not far.e2e.test.
    facts = facts_of(w, queue_id)
    assert facts.get("flagged_relay") == w.relay_hop and facts.get("flagged_tls") == "tls:1", facts
    assert facts.get("flagged_action") == "encrypt", facts
    w.milter.wait_for_log(rf"Postfix relays through \[{RELAY_NAME}\]:{w.relay.port} \(relayhost\)", 5)


def test_an_unverifiable_relay_certificate_defers_never_plain(w: World) -> None:
    w.point_relay(ROGUE)  # the relay's name now leads to a server with another CA's certificate
    marker = f"rogue-{time.monotonic_ns()}"
    queue_id = smtp.send(w.postfix.smtpd_port, flagged(marker), SENDER, [RCPT])
    line = wait_until(lambda: deferred_line(w.postfix.maillog(), queue_id), TIMEOUT,
                      f"{queue_id} deferred\n{w.postfix.maillog_tail()}")
    assert "status=deferred (Server certificate not verified)" in line, line
    assert "postfix/privacy-encrypt/smtp[" in line
    assert not (at(w.rogue, marker) or at(w.relay, marker) or at(w.mx, marker))
    # Once the name leads to the real relay again, the message leaves over verified TLS.
    w.point_relay(RELAY)
    w.postfix.flush()
    got = arrived(w.relay, marker)
    assert got.tls
    assert "Verified TLS connection established" in tls_line_before(w, status_line(w, queue_id, "sent"))
    assert not at(w.rogue, marker) and not at(w.mx, marker)


def policy_check(w: World) -> str:
    """`privacy-milter policy check` as an admin runs it on this Postfix's host."""
    out = subprocess.run([str(VENV_BIN / "privacy-milter"), "policy", "check", str(w.milter.policy_path)],
                         capture_output=True, text=True, timeout=60,
                         env={**os.environ, "MAIL_CONFIG": str(w.postfix.etc_dir)})
    assert out.returncode == 0, out.stderr
    return out.stderr


def test_policy_check_is_quiet_about_routing_with_the_relayhost_variant(w: World) -> None:
    assert "milter_header_checks" not in policy_check(w) and "bypass" not in policy_check(w)


def test_the_stock_filter_line_would_bypass_the_relay(w: World) -> None:
    """Why the relayhost variant exists: "FILTER privacy-encrypt:" without a next hop (the
    stock header checks) ignores relayhost and goes to the recipient domain's MX. And
    `policy check` says so."""
    stock = copy_deploy_file("privacy-milter-header-checks.regexp", w.postfix.base_dir)
    relayed = w.postfix.postconf_value("milter_header_checks")
    w.postfix.postconf(milter_header_checks=f"regexp:{stock}")
    w.postfix.reload()
    try:
        warning = policy_check(w)
        assert f"Postfix relays through {w.relay_hop}" in warning and "bypass the relay" in warning, warning
        marker = f"bypass-{time.monotonic_ns()}"
        queue_id = smtp.send(w.postfix.smtpd_port, flagged(marker), SENDER, [RCPT])
        arrived(w.mx, marker)
        assert f"relay=mx.{FAR}[{w.prefix}{MX}]:25" in status_line(w, queue_id, "sent")
        assert not at(w.relay, marker)
    finally:
        w.postfix.postconf(milter_header_checks=relayed)
        w.postfix.reload()


def test_a_relay_without_starttls_refuses_flagged_mail_at_smtp_time(w: World) -> None:
    """The milter probes the relay itself: a relay that offers no STARTTLS is
    flagged_plaintext (reject by default), naming the relay, before anything is queued."""
    plain = Sink(host=f"{w.prefix}{RELAY + 2}", port=w.relay.port, hostname=RELAY_NAME).start()
    try:
        hop = f"[plainrelay.e2e.test]:{w.relay.port}"
        w.stub.add("plainrelay.e2e.test", "A", f"{w.prefix}{RELAY + 2}")
        w.milter.write_policy(POLICY + f'[filters.tls]\nrelayhost = "{hop}"\n')
        offset = len(w.milter.log())
        w.milter.proc.send_signal(10)  # SIGUSR1: reload
        w.milter.wait_for_log(r"policy reloaded", 10, since=offset)
        marker = f"plainrelay-{time.monotonic_ns()}"
        with pytest.raises(smtplib.SMTPDataError) as info:
            smtp.send(w.postfix.smtpd_port, flagged(marker), SENDER, [RCPT])
        text = info.value.smtp_error.decode()
        assert info.value.smtp_code == 550 and "relay (plainrelay.e2e.test)" in text and IBAN not in text, text
    finally:
        w.milter.write_policy(POLICY)
        offset = len(w.milter.log())
        w.milter.proc.send_signal(10)
        w.milter.wait_for_log(r"policy reloaded", 10, since=offset)
        plain.stop()
