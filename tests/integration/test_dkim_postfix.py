"""DKIM through a real Postfix: outbound mail signed by the daemon and verified at the sink
with dkimpy against the DNS stub's keys; inbound mail verified, with our
Authentication-Results and forged ones removed.

The sink does not announce 8BITMIME: with disable_mime_output_conversion = yes (as
deploy/postfix/main.cf) Postfix sends the 8-bit body unchanged and the signature holds.
"""

from __future__ import annotations

import shutil
import smtplib
import time
from pathlib import Path

import dkim
import dns.resolver
import pytest

from privacy_filters.dkim.keys import dns_record, keygen, load_key
from privacy_filters.dkim.settings import DkimSettings
from privacy_filters.dkim.sign import sign
from tests.harness import smtp
from tests.harness.dnsstub import DnsStub
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink

pytestmark = pytest.mark.postfix

HOSTED = "hosted.test"
RSA_ONLY, ED_ONLY, BOTH = "rsa.hosted.test", "ed.hosted.test", "both.hosted.test"
FOREIGN = "sender.example"     # signs its own mail, for the inbound tests
AUTHSERV = "mx.privacy.test"


def txt(record: str) -> str:
    return " ".join(f'"{record[i:i + 250]}"' for i in range(0, len(record), 250))


class Keys:
    def __init__(self, root: Path) -> None:
        root.mkdir()
        self.keys = {}
        for domain, sel, alg in [(RSA_ONLY, "r1", "rsa-sha256"), (ED_ONLY, "e1", "ed25519-sha256"),
                                 (BOTH, "r1", "rsa-sha256"), (BOTH, "e1", "ed25519-sha256"),
                                 (FOREIGN, "s1", "rsa-sha256")]:
            path, _ = keygen(domain, sel, alg, root)
            self.keys[(domain, sel)] = load_key(path, alg, sel)  # type: ignore[arg-type]

    def table(self, domain: str) -> str:
        lines = [f'"{sel}" = {{ key_file = "{k.key_file}", algorithm = "{k.algorithm}" }}'
                 for (d, sel), k in self.keys.items() if d == domain]
        return f'[filters.dkim.keys."{domain}"]\n' + "\n".join(lines) + "\n"


def policy_text(keys: Keys, stub: DnsStub, canon: str) -> str:
    return f"""
[network]
hosted_domains = ["{HOSTED}"]
trusted_networks = ["127.0.0.1/32"]
[pipeline]
filters = ["dkim", "dlp", "tls"]
[filters.dlp.actions]
uk_bank_account = {{ high = "tag", medium = "tag" }}
[filters.dkim]
canonicalization = "{canon}"
authserv_id = "{AUTHSERV}"
nameserver = "127.0.0.1:{stub.port}"
dns_timeout = 1.5
""" + "".join(keys.table(d) for d in (RSA_ONLY, ED_ONLY, BOTH))


@pytest.fixture(scope="module", params=["relaxed/relaxed", "simple/simple"])
def servers(request, certs):
    root = harness_dir("dkim")
    keys = Keys(root / "keys")
    stub = DnsStub().start()
    for (domain, sel), key in keys.keys.items():
        stub.add(f"{sel}._domainkey.{domain}", "TXT", txt(dns_record(key)))
    milter = MilterProcess(root / "milter", policy_text(keys, stub, request.param)).start()
    sink = Sink(announce_8bitmime=False).start()
    postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec,
                              relay_domains=HOSTED, mynetworks="127.0.0.0/8",
                              tls_cert=certs.cert_file, tls_key=certs.key_file).start()
    try:
        assert postfix.postconf_value("disable_mime_output_conversion") == "yes"
        yield keys, stub, milter, postfix, sink
    finally:
        postfix.stop()
        sink.stop()
        milter.stop()
        stub.stop()
        shutil.rmtree(root, ignore_errors=True)


def arrived(sink: Sink, marker: bytes, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in sink.messages:
            if marker in m.raw:
                return m.raw
        time.sleep(0.05)
    raise AssertionError(f"no message with {marker!r} arrived within {timeout}s")


def stub_dnsfunc(stub: DnsStub):
    """dkimpy's DNS, as a receiving MTA would ask it: the stub over UDP."""
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers, resolver.port, resolver.lifetime = ["127.0.0.1"], stub.port, 3.0

    def dnsfunc(name: bytes, timeout: float = 5) -> bytes:
        try:
            answer = resolver.resolve(name.decode().rstrip("."), "TXT")
        except dns.exception.DNSException:
            return b""
        return b"".join(answer.rrset[0].strings) if answer.rrset else b""
    return dnsfunc


def verdicts(raw: bytes, stub: DnsStub) -> list[tuple[str, bool]]:
    d = dkim.DKIM(raw)
    out = []
    sigs = [v for n, v in d.headers if n.lower() == b"dkim-signature"]
    for i, value in enumerate(sigs):
        alg = dkim.util.parse_tag_value(value)[b"a"].decode()
        try:
            ok = bool(d.verify(idx=i, dnsfunc=stub_dnsfunc(stub)))
        except dkim.ValidationError:
            ok = False
        out.append((alg, ok))
    return out


def raw_mail(domain: str, marker: str, body: bytes = b"Hello,\r\nsee you.\r\n",
             extra: bytes = b"") -> bytes:
    # Odd spacing, a folded Subject and an extra space before a value: sent as is.
    return (f"From:   Alice <alice@{domain}>\r\nTo:bob@far.example\r\n"
            f"Subject: a folded\r\n\tsubject {marker}\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
            f"Message-ID: <{marker}@{domain}>\r\nMIME-Version: 1.0\r\n").encode() + extra + b"\r\n" + body


@pytest.mark.parametrize("domain,algorithms", [(RSA_ONLY, ["rsa-sha256"]), (ED_ONLY, ["ed25519-sha256"]),
                                               (BOTH, ["rsa-sha256", "ed25519-sha256"])])
def test_outbound_signed_and_verified_at_the_sink(servers, domain, algorithms):
    keys, stub, milter, postfix, sink = servers
    marker = f"sig-{domain.split('.')[0]}-{time.monotonic_ns()}"
    smtp.send(postfix.smtpd_port, raw_mail(domain, marker), f"alice@{domain}", ["bob@far.example"])
    got = arrived(sink, marker.encode())
    assert verdicts(got, stub) == [(a, True) for a in algorithms]
    assert b"Subject: a folded\r\n\tsubject " in got and b"From:   Alice" in got   # as sent
    # What a receiver sees if the mail is changed after signing: no signature holds.
    assert all(not ok for _, ok in verdicts(got.replace(b"see you.", b"see you!"), stub))


def test_tagged_message_with_x_privacy_headers_verifies(servers):
    keys, stub, milter, postfix, sink = servers
    marker = f"tagged-{time.monotonic_ns()}"
    body = b"Please pay sort code 20-00-00 account number 31926819 today.\r\n"
    smtp.send(postfix.smtpd_port, raw_mail(BOTH, marker, body), f"alice@{BOTH}", ["bob@far.example"])
    got = arrived(sink, marker.encode())
    head = got.split(b"\r\n\r\n")[0]
    assert b"X-Privacy-" in head, head.decode(errors="replace")
    assert verdicts(got, stub) == [("rsa-sha256", True), ("ed25519-sha256", True)]


def test_8bit_body_to_a_sink_without_8bitmime_still_verifies(servers):
    keys, stub, milter, postfix, sink = servers
    marker = f"eightbit-{time.monotonic_ns()}"
    body = "Grüße aus Köln, £20 bitte.\r\n".encode()
    extra = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n"
    with smtplib.SMTP("127.0.0.1", postfix.smtpd_port, timeout=60) as client:
        client.ehlo("client.test")
        client.sendmail(f"alice@{RSA_ONLY}", ["bob@far.example"], raw_mail(RSA_ONLY, marker, body, extra),
                        mail_options=["BODY=8BITMIME"])
    got = arrived(sink, marker.encode())
    assert body in got               # not converted to quoted-printable
    assert verdicts(got, stub) == [("rsa-sha256", True)]


def test_unsigned_domain_is_delivered_unsigned(servers):
    keys, stub, milter, postfix, sink = servers
    marker = f"unsigned-{time.monotonic_ns()}"
    smtp.send(postfix.smtpd_port, raw_mail("other.test", marker), "alice@other.test", ["bob@far.example"])
    assert b"DKIM-Signature" not in arrived(sink, marker.encode())


# --- inbound ---------------------------------------------------------------------------------

def _foreign_signed(keys: Keys, marker: str) -> bytes:
    raw = raw_mail(FOREIGN, marker).replace(b"To:bob@far.example", f"To: bob@{HOSTED}".encode())
    key = keys.keys[(FOREIGN, "s1")]
    settings = DkimSettings(keys={FOREIGN: (key,)})
    out = raw
    for name, value in sign(raw, FOREIGN, [key], settings):
        out = f"{name}: {value}\r\n".encode() + out
    return out


def _inbound(servers, raw: bytes, marker: str) -> str:
    keys, stub, milter, postfix, sink = servers
    smtp.send(postfix.smtpd_port, raw, f"alice@{FOREIGN}", [f"bob@{HOSTED}"], source="127.0.0.9")
    got = arrived(sink, marker.encode())
    lines = dkim.rfc822_parse(got)[0]
    ours = [v.decode() for n, v in lines if n.lower() == b"authentication-results"
            and v.strip().lower().startswith(AUTHSERV.encode())]
    assert len(ours) == 1, lines
    return " ".join(ours[0].split())


@pytest.mark.parametrize("case,want", [("pass", "dkim=pass"), ("fail", "dkim=fail"), ("none", "dkim=none"),
                                       ("temperror", "dkim=temperror"), ("permerror", "dkim=permerror")])
def test_inbound_results_in_our_authentication_results(servers, case, want):
    keys, stub, milter, postfix, sink = servers
    marker = f"in-{case}-{time.monotonic_ns()}"
    raw = _foreign_signed(keys, marker)
    name = f"s1._domainkey.{FOREIGN}"
    stub.remove(name)
    stub.add(name, "TXT", txt(dns_record(keys.keys[(FOREIGN, "s1")])))
    if case == "fail":
        raw = raw.replace(b"see you.", b"see you!")
    elif case == "none":
        raw = raw_mail(FOREIGN, marker).replace(b"To:bob@far.example", f"To: bob@{HOSTED}".encode())
    elif case == "temperror":
        stub.drop(name)
    elif case == "permerror":
        stub.remove(name)
        stub.add(name, "TXT", '"v=DKIM1; k=rsa; p=bm90IGEga2V5"')
    # A forged header claiming our id, placed by the sender: removed.
    raw = f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=bank.example\r\n".encode() + raw
    try:
        ar = _inbound(servers, raw, marker)
    finally:
        stub.drop(name, on=False)
    assert want in ar and "bank.example" not in ar
    if case != "none":
        assert f"header.d={FOREIGN}" in ar and "header.s=s1" in ar
    if case == "pass":
        assert "header.a=rsa-sha256" in ar and "2048-bit key" in ar
