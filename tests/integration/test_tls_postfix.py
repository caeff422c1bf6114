"""Issue 4 end to end on a real Postfix: opportunistic TLS is enforced, and flagged mail
never leaves in clear text.

One world per module (Postfix start-up costs seconds):

- a DNS stub on PREFIX.77:53 answering like a validating resolver (AD for secure zones);
- Postfix started in its own mount namespace with a resolv.conf pointing at the stub
  (`options trust-ad`), NO relayhost, `smtp_host_lookup = dns`, DNSSEC on, the TLS policy
  map on the daemon's socket, `milter_header_checks` and the privacy-encrypt transport
  copied from deploy/postfix;
- the real `privacy-milter run` daemon (milter + socketmap policy service), its nameserver
  the stub, its MTA-STS fetches resolving through the stub and trusting the test CA;
- aiosmtpd sinks on port 25: PREFIX.21 STARTTLS (test CA cert for every MX name),
  PREFIX.22 no STARTTLS, PREFIX.23 STARTTLS with a certificate from another CA;
- the MTA-STS HTTPS server behind PREFIX.30:443.

PREFIX is 127.0.0. unless a parallel run holds those ports (see tls_e2e_helpers).
"""

from __future__ import annotations

import contextlib
import re
import shutil
import smtplib
import ssl
import subprocess
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS

from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.https_server import MtaStsHttpsServer
from tests.harness.postfix import PostfixInstance
from tests.harness import smtp
from tests.harness.sink import ReceivedMessage, Sink
from tests.integration.tls_e2e_helpers import (
    NamespacedMilter,
    TcpForwarder,
    copy_deploy_file,
    deferred_line,
    encrypt_transport_lines,
    pick_loopback_block,
    spki_sha256,
    wait_until,
    write_leaf,
)

pytestmark = [pytest.mark.postfix, pytest.mark.timeout(180)]

TLS_SINK, PLAIN_SINK, BADCERT_SINK, HTTPS_HOST = 21, 22, 23, 30

DANE = "dane.e2e.test"          # signed zone, TLSA 3 1 1 of the TLS sink's key
BAD_TLSA = "badtlsa.e2e.test"   # signed zone, TLSA that matches nothing, MX is the TLS sink
STS = "sts.e2e.test"            # MTA-STS enforce; MX first on the plain sink (STARTTLS stripped)
STS_BADCERT = "stsbad.e2e.test"  # MTA-STS enforce; MX shows a certificate from another CA
PINNED = "pinned.e2e.test"      # [tls_policy.pins] secure; MX is the plain sink
TLS_ONLY = "tls.e2e.test"       # no policy; MX offers STARTTLS
PLAIN = "plain.e2e.test"        # no policy; MX offers no STARTTLS
MX_NAMES = tuple(f"mx.{d}" for d in (DANE, BAD_TLSA, STS, STS_BADCERT, PINNED, TLS_ONLY, PLAIN))

IBAN = "GB53 MIDL 4005 1571 2345 67"
SENDER = "alice@shop.example"

MILTER_POLICY = """
[network]
trusted_networks = ["127.0.0.1/32"]
[filters.tls]
flagged_plaintext = "reject"
flagged_unknown = "encrypt"
[filters.dlp.actions]
iban = { high = "tag", medium = "tag" }
"""

TIMEOUT = 30.0


def tls_policy_text(nameserver: str) -> str:
    return f"""enabled = true
nameserver = "{nameserver}"
nameserver_port = 53
dns_timeout = 2.0
mta_sts = true
mta_sts_fetch_timeout = 5.0
probe = true
probe_port = 25
probe_timeout = 3.0
probe_helo = "mx.harness.test"
[tls_policy.pins]
"{PINNED}" = "secure"
"""


@dataclass
class World:
    prefix: str
    root: Path
    ca_file: Path
    stub: DnsStub
    web: MtaStsHttpsServer
    tls_sink: Sink
    plain_sink: Sink
    badcert_sink: Sink
    milter: NamespacedMilter
    postfix: PostfixInstance

    def addr(self, host: int) -> str:
        return f"{self.prefix}{host}"

    def point_mx(self, domain: str, host: int) -> None:
        """Make mx.DOMAIN resolve to PREFIX.host (what an attacker on the path could do)."""
        self.stub.remove(f"mx.{domain}", "A")
        self.stub.add(f"mx.{domain}", "A", self.addr(host))

    def policy_query(self, key: str) -> str:
        """`postmap -q KEY socketmap:...`: Postfix's own socketmap client asks the daemon."""
        table = f"socketmap:unix:{self.milter.tls_socket_path}:tlspolicy"
        out = subprocess.run(["postmap", "-c", str(self.postfix.etc_dir), "-q", key, table],
                             capture_output=True, text=True, timeout=30, check=False)
        return out.stdout.strip() or f"(exit {out.returncode}) {out.stderr.strip()}"


def _zones(stub: DnsStub, prefix: str, tls_leaf_pem: bytes) -> None:
    def mx(domain: str, host: int) -> None:
        stub.add(domain, "MX", f"10 mx.{domain}.")
        stub.add(f"mx.{domain}", "A", f"{prefix}{host}")

    mx(DANE, TLS_SINK)
    stub.add(f"_25._tcp.mx.{DANE}", "TLSA", "3 1 1 " + spki_sha256(tls_leaf_pem))
    stub.secure(DANE)
    mx(BAD_TLSA, TLS_SINK)
    stub.add(f"_25._tcp.mx.{BAD_TLSA}", "TLSA", "3 1 1 " + "5a" * 32)
    stub.secure(BAD_TLSA)
    for domain, host in ((STS, PLAIN_SINK), (STS_BADCERT, BADCERT_SINK)):
        mx(domain, host)
        stub.add(f"_mta-sts.{domain}", "TXT", '"v=STSv1; id=20261123;"')
        stub.add(f"mta-sts.{domain}", "A", f"{prefix}{HTTPS_HOST}")
    mx(PINNED, PLAIN_SINK)
    mx(TLS_ONLY, TLS_SINK)
    mx(PLAIN, PLAIN_SINK)


@pytest.fixture(scope="module")
def world():
    prefix = pick_loopback_block((TLS_SINK, PLAIN_SINK, BADCERT_SINK), HTTPS_HOST)
    root = harness_dir("tls-e2e")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        ca = trustme.CA(organization_name="privacy-milter tls e2e")
        rogue = trustme.CA(organization_name="somebody else")
        ca_file = root / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        tls_leaf = ca.issue_cert(*MX_NAMES, "localhost", "127.0.0.1", "mx.harness.test")
        tls_cert, tls_key = write_leaf(tls_leaf, root, "tls")
        bad_cert, bad_key = write_leaf(rogue.issue_cert(*MX_NAMES), root, "rogue")

        stub = DnsStub(f"{prefix}77", 53).start()
        stack.callback(stub.stop)
        _zones(stub, prefix, tls_leaf.cert_chain_pems[0].bytes())
        resolv = stub.write_resolv_conf(root / "resolv.conf")
        resolv.chmod(0o644)

        sinks = []
        for host, cert, key in ((TLS_SINK, tls_cert, tls_key), (PLAIN_SINK, None, None),
                                (BADCERT_SINK, bad_cert, bad_key)):
            s = Sink(host=f"{prefix}{host}", port=25, tls_cert=str(cert) if cert else None,
                     tls_key=str(key) if key else None, hostname=f"sink{host}.e2e.test").start()
            stack.callback(s.stop)
            sinks.append(s)

        web = MtaStsHttpsServer([STS, STS_BADCERT], ca=ca).start()
        stack.callback(web.stop)
        for domain in (STS, STS_BADCERT):
            web.set_policy(domain, mode="enforce", mx=[f"mx.{domain}"], max_age=86400)
        fwd = TcpForwarder(f"{prefix}{HTTPS_HOST}", 443, ("127.0.0.1", web.port)).start()
        stack.callback(fwd.stop)

        milter = NamespacedMilter(root / "milter", MILTER_POLICY, tls_policy_text(f"{prefix}77"),
                                  resolv_conf=resolv, ca_file=ca_file)
        stack.callback(milter.stop)
        milter.start()

        header_checks = copy_deploy_file("privacy-milter-header-checks.regexp", root)
        strip = copy_deploy_file("privacy-milter-strip.regexp", root)
        postfix = PostfixInstance(
            root / "postfix", relay_port=25, milter=milter.spec, mynetworks="127.0.0.1/32",
            tls_cert=tls_cert, tls_key=tls_key, resolv_conf=resolv,
            extra_main={
                "relayhost": "",
                "disable_dns_lookups": "no",
                "smtp_host_lookup": "dns",
                "smtp_dns_support_level": "dnssec",
                "smtp_tls_security_level": "dane",
                "smtp_tls_policy_maps": f"socketmap:unix:{milter.tls_socket_path}:tlspolicy",
                "smtp_tls_CAfile": str(ca_file),
                "smtp_tls_loglevel": "1",
                "smtp_connect_timeout": "5s",
                "milter_header_checks": f"regexp:{header_checks}",
                # the production macro lines, not the harness's own lists
                **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()},
            })
        with open(postfix.etc_dir / "master.cf", "a") as f:
            f.write(encrypt_transport_lines(strip))
        stack.callback(postfix.stop)
        postfix.start()
        yield World(prefix, root, ca_file, stub, web, *sinks, milter, postfix)


@pytest.fixture
def w(world: World):
    yield world
    assert world.milter.alive(), "the milter died during the test"


# --- helpers -----------------------------------------------------------------------------------

def message(marker: str, to: str, body: str = "") -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, to, f"test {marker}"
    m.set_content(f"{body}\n\nmarker {marker}\n")
    return m.as_bytes()


def send(w: World, to: str, raw: bytes, starttls: bool = False) -> str:
    """One message from 127.0.0.1 (mynetworks: outbound); the queue id from Postfix's 250."""
    context = ssl.create_default_context(cafile=str(w.ca_file)) if starttls else None
    return smtp.send(w.postfix.smtpd_port, raw, SENDER, [to], starttls=context, helo="client.e2e.test")


def arrived(sink: Sink, marker: str, timeout: float = TIMEOUT) -> ReceivedMessage:
    needle = marker.encode()
    return wait_until(lambda: next((m for m in sink.messages if needle in m.raw), None), timeout,
                      f"a message with {marker!r} at {sink.host}:{sink.port}")


def nowhere(w: World, marker: str) -> None:
    """No sink received anything with this marker (over TLS or not)."""
    needle = marker.encode()
    for sink in (w.tls_sink, w.plain_sink, w.badcert_sink):
        assert not any(needle in m.raw for m in sink.messages + sink.refused), sink.host


def status_line(w: World, queue_id: str, status: str, timeout: float = TIMEOUT) -> str:
    return w.postfix.wait_for_log(rf"(?m)^.*postfix/[\w/-]+\[\d+\]: {queue_id}: to=<.*status={status} .*$",
                                  timeout).group(0)


def tls_line_before(w: World, line: str, host: str) -> str:
    """The '... TLS connection established to HOST' line of the same smtp process, before `line`."""
    proc = line.split(": ", 1)[0].rsplit(" ", 1)[-1]  # e.g. postfix/privacy-encrypt/smtp[123]
    log = w.postfix.maillog()
    head = log[:log.index(line)]
    found = [ln for ln in head.splitlines() if ln.split(": ", 1)[0].endswith(proc)
             and f"TLS connection established to {host}[" in ln]
    assert found, f"no TLS line for {host} from {proc} before:\n{line}\n{w.postfix.maillog_tail()}"
    return found[-1]


def deferred(w: World, queue_id: str, dsn: str, reason: str, timeout: float = TIMEOUT) -> str:
    """Wait for Postfix to defer `queue_id` with this DSN and reason; it stays in the deferred queue."""
    line = wait_until(lambda: deferred_line(w.postfix.maillog(), queue_id), timeout,
                      f"{queue_id} deferred\n{w.postfix.maillog_tail()}")
    assert f"dsn={dsn}, status=deferred ({reason}" in line, line
    queued = {e["queue_id"]: e for e in w.postfix.queue()}
    assert queued.get(queue_id, {}).get("queue_name") == "deferred", queued
    return line


# --- 1. DANE ---------------------------------------------------------------------------------

def test_dane_domain_is_delivered_with_verified_tls(w: World):
    assert w.policy_query(DANE) == "dane-only"
    marker = f"dane-{time.monotonic_ns()}"
    queue_id = send(w, f"bob@{DANE}", message(marker, f"bob@{DANE}"))
    got = arrived(w.tls_sink, marker)
    assert got.tls and got.tls_version in ("TLSv1.2", "TLSv1.3")
    line = status_line(w, queue_id, "sent")
    assert f"relay=mx.{DANE}[{w.addr(TLS_SINK)}]:25" in line
    assert "Verified TLS connection established" in tls_line_before(w, line, f"mx.{DANE}")


# --- 2. MTA-STS enforce (and a secure pin): never plain, even with STARTTLS stripped -----------

def test_mta_sts_enforce_waits_when_starttls_is_stripped_then_goes_over_verified_tls(w: World):
    assert w.policy_query(STS) == f"secure match=mx.{STS}"
    assert w.web.hits[f"mta-sts.{STS}"] >= 1  # the daemon really fetched the policy over HTTPS
    marker = f"sts-{time.monotonic_ns()}"
    w.point_mx(STS, PLAIN_SINK)  # the MX answers without STARTTLS
    queue_id = send(w, f"bob@{STS}", message(marker, f"bob@{STS}"))
    deferred(w, queue_id, "4.7.4", f"TLS is required, but was not offered by host mx.{STS}[")
    nowhere(w, marker)

    w.point_mx(STS, TLS_SINK)  # STARTTLS with a certificate for the policy's MX name
    w.postfix.flush()
    got = arrived(w.tls_sink, marker)
    assert got.tls
    line = status_line(w, queue_id, "sent")
    assert "Verified TLS connection established" in tls_line_before(w, line, f"mx.{STS}")
    assert not any(marker.encode() in m.raw for m in w.plain_sink.messages)


def test_mta_sts_enforce_refuses_a_certificate_from_another_ca(w: World):
    assert w.policy_query(STS_BADCERT) == f"secure match=mx.{STS_BADCERT}"
    marker = f"stsbad-{time.monotonic_ns()}"
    queue_id = send(w, f"bob@{STS_BADCERT}", message(marker, f"bob@{STS_BADCERT}"))
    deferred(w, queue_id, "4.7.5", "Server certificate not verified")
    w.postfix.wait_for_log(rf"certificate verification failed for mx\.{re.escape(STS_BADCERT)}\[.*untrusted issuer")
    nowhere(w, marker)


def test_secure_pin_waits_when_the_mx_offers_no_starttls(w: World):
    assert w.policy_query(PINNED) == "secure"
    marker = f"pin-{time.monotonic_ns()}"
    queue_id = send(w, f"bob@{PINNED}", message(marker, f"bob@{PINNED}"))
    deferred(w, queue_id, "4.7.4", f"TLS is required, but was not offered by host mx.{PINNED}[")
    nowhere(w, marker)


# --- 3. flagged mail to a plain-text-only domain: refused at SMTP time ----------------------------

def test_flagged_message_to_plaintext_domain_is_refused_naming_the_kind_not_the_value(w: World):
    marker = f"flag-plain-{time.monotonic_ns()}"
    with pytest.raises(smtplib.SMTPDataError) as info:
        send(w, f"bob@{PLAIN}", message(marker, f"bob@{PLAIN}", f"Please pay to IBAN {IBAN}, thanks"))
    assert info.value.smtp_code == 550
    text = info.value.smtp_error.decode()
    assert text.startswith("5.7.1") and "IBAN" in text and PLAIN in text, text
    assert "encrypted" in text
    for form in (IBAN, IBAN.replace(" ", ""), "4005 1571", "40051571"):
        assert form not in text
    w.milter.wait_for_log(rf"rcpt_domains={PLAIN} .*action=reject findings=iban")
    time.sleep(0.5)  # a message that was wrongly queued would be on its way by now
    nowhere(w, marker)


# --- 4. flagged mail to a TLS-capable domain: only through privacy-encrypt ------------------------

@pytest.mark.parametrize("domain,verified", [(TLS_ONLY, False), (DANE, True)], ids=["starttls", "dane"])
def test_flagged_message_leaves_only_through_the_encrypt_transport(w: World, domain: str, verified: bool):
    marker = f"flag-{domain}-{time.monotonic_ns()}"
    queue_id = send(w, f"bob@{domain}", message(marker, f"bob@{domain}", f"Please pay to IBAN {IBAN}, thanks"))
    got = arrived(w.tls_sink, marker)
    assert got.tls and got.tls_version in ("TLSv1.2", "TLSv1.3")
    headers = got.raw.split(b"\r\n\r\n", 1)[0]
    assert b"X-Privacy-Encrypt" not in got.raw  # the routing marker was stripped on the way out
    assert b"X-Privacy-DLP: iban=" in headers
    w.postfix.wait_for_log(rf"{queue_id}: milter-header-filter: header X-Privacy-Encrypt: .*: privacy-encrypt:")
    line = status_line(w, queue_id, "sent")
    assert "postfix/privacy-encrypt/smtp[" in line, line
    tls = tls_line_before(w, line, f"mx.{domain}")
    if verified:  # the policy map still applies in the encrypt transport: DANE authenticates
        assert "Verified TLS connection established" in tls, tls
    assert "action=tag findings=iban" in w.milter.message_line(queue_id)


# --- 5. DANE with a TLSA record that matches nothing: deferred, never plain -----------------------

def test_dane_domain_with_wrong_tlsa_is_deferred(w: World):
    assert w.policy_query(BAD_TLSA) == "dane-only"
    marker = f"badtlsa-{time.monotonic_ns()}"
    queue_id = send(w, f"bob@{BAD_TLSA}", message(marker, f"bob@{BAD_TLSA}"))
    deferred(w, queue_id, "4.7.5", "Server certificate not verified")
    w.postfix.wait_for_log(rf"certificate verification failed for mx\.{re.escape(BAD_TLSA)}\[.*no matching DANE TLSA")
    nowhere(w, marker)
    assert not any(f"{queue_id}: to=" in ln and "status=sent" in ln for ln in w.postfix.maillog().splitlines())


# --- 6. inbound TLS is recorded per message --------------------------------------------------------
# Keep these two last and in this order: the second one shows a store bug (see its reason)
# that hides every later record from other readers until the daemon restarts.

def inbound_tls_message(w: World) -> tuple[str, str]:
    """Send one message over STARTTLS; return (queue id, TLS version from the milter's line)."""
    marker = f"inbound-tls-{time.monotonic_ns()}"
    queue_id = send(w, f"bob@{TLS_ONLY}", message(marker, f"bob@{TLS_ONLY}"), starttls=True)
    arrived(w.tls_sink, marker)
    line = w.milter.message_line(queue_id)
    assert re.search(r" tls=TLSv1\.[23] cipher=TLS_\w+ ", line), line
    return queue_id, line.split(" tls=", 1)[1].split(" ", 1)[0]


def stats_until(w: World, done, timeout: float = 5.0) -> dict:
    last: dict = {}

    def probe():
        nonlocal last
        last = w.milter.stats()
        return done(last)
    try:
        wait_until(probe, timeout, "the store count", interval=0.2)
    except AssertionError:
        pass
    return last


def test_inbound_starttls_is_in_the_log_line_and_counted_by_stats(w: World):
    _, version = inbound_tls_message(w)
    stats = stats_until(w, lambda s: s["tls_version"].get(version, 0) >= 1)
    assert stats["tls_version"].get(version) == 1, stats


# Regression: SqlitePolicyCache.setup() once did os.close(os.open(meta.db)) while the store's
# SQLite connection was open, dropping the daemon's POSIX locks; the next `privacy-milter stats`
# then deleted the WAL and every later record went to an unlinked file.
def test_inbound_starttls_is_counted_by_stats_after_an_earlier_stats_call(w: World):
    before = w.milter.stats()
    _, version = inbound_tls_message(w)
    want = before["tls_version"].get(version, 0) + 1
    stats = stats_until(w, lambda s: s["tls_version"].get(version, 0) >= want)
    assert stats["tls_version"].get(version, 0) == want, (before, stats)
