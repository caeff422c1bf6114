"""The DNS stub itself: UDP and TCP, AD only for secure zones and only when asked,
truncation, SERVFAIL/NXDOMAIN knobs, and glibc through a bind-mounted resolv.conf."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import dns.flags
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.harness.dnsstub import DnsStub


def ask(stub: DnsStub, name: str, rdtype: str, *, dnssec: bool = True, tcp: bool = False,
        payload: int = 1232) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, want_dnssec=dnssec, payload=payload)
    send = dns.query.tcp if tcp else dns.query.udp
    return send(query, "127.0.0.1", timeout=3, port=stub.port)


def test_tls_stub_answers_over_udp_and_tcp(dns_stub: DnsStub) -> None:
    dns_stub.add("a.test", "MX", "10 mx.a.test.").add("mx.a.test", "A", "127.0.0.9").secure("a.test")
    for tcp in (False, True):
        reply = ask(dns_stub, "a.test", "MX", tcp=tcp)
        assert reply.rcode() == dns.rcode.NOERROR and reply.flags & dns.flags.AD
        assert reply.answer[0][0].exchange.to_text() == "mx.a.test."


def test_tls_stub_ad_only_for_secure_zones_and_when_asked(dns_stub: DnsStub) -> None:
    dns_stub.add("s.test", "A", "127.0.0.1").add("i.test", "A", "127.0.0.1").secure("s.test")
    assert ask(dns_stub, "s.test", "A").flags & dns.flags.AD
    assert not ask(dns_stub, "i.test", "A").flags & dns.flags.AD
    assert not ask(dns_stub, "s.test", "A", dnssec=False).flags & dns.flags.AD


def test_tls_stub_nxdomain_nodata_servfail(dns_stub: DnsStub) -> None:
    dns_stub.add("_25._tcp.mx.s.test", "TLSA", "3 1 1 " + "5a" * 32).secure("s.test")
    nx = ask(dns_stub, "nothing.s.test", "A")
    assert nx.rcode() == dns.rcode.NXDOMAIN and nx.flags & dns.flags.AD
    nodata = ask(dns_stub, "_tcp.mx.s.test", "A")  # empty non-terminal
    assert nodata.rcode() == dns.rcode.NOERROR and not nodata.answer
    dns_stub.nxdomain("_25._tcp.mx.s.test")
    assert ask(dns_stub, "_25._tcp.mx.s.test", "TLSA").rcode() == dns.rcode.NXDOMAIN
    dns_stub.nxdomain("_25._tcp.mx.s.test", on=False)
    assert ask(dns_stub, "_25._tcp.mx.s.test", "TLSA").answer
    dns_stub.servfail("_25._tcp.mx.s.test", "TLSA")
    assert ask(dns_stub, "_25._tcp.mx.s.test", "TLSA").rcode() == dns.rcode.SERVFAIL


def test_tls_stub_truncates_big_udp_answers(dns_stub: DnsStub) -> None:
    dns_stub.add("big.test", "TXT", *[f'"{"x" * 200} {i}"' for i in range(20)])
    udp = ask(dns_stub, "big.test", "TXT", payload=512)
    assert udp.flags & dns.flags.TC and not udp.answer
    assert len(ask(dns_stub, "big.test", "TXT", tcp=True).answer[0]) == 20


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare to bind port 53 and bind-mount resolv.conf")
def test_tls_stub_on_port_53_serves_glibc_in_a_mount_namespace(short_dir: Path) -> None:
    try:
        stub = DnsStub("127.0.0.79", 53).start()
    except OSError as exc:
        pytest.skip(f"127.0.0.79:53 not available: {exc}")
    try:
        stub.add("mx.glibc.test", "A", "127.0.0.9")
        resolv = stub.write_resolv_conf(short_dir / "resolv.conf")
        result = subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount --bind {resolv} /etc/resolv.conf && getent ahostsv4 mx.glibc.test"],
            capture_output=True, text=True, timeout=30)
        if result.returncode != 0 and "mount" in result.stderr:
            pytest.skip(f"cannot bind-mount here: {result.stderr.strip()}")
        assert result.stdout.split()[0] == "127.0.0.9"
    finally:
        stub.stop()
    with pytest.raises(ValueError):
        DnsStub("127.0.0.1", 0).write_resolv_conf(short_dir / "x")
