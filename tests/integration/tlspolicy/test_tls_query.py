"""`privacy-milter tls-query`: the admin's view of the same decision, against the DNS stub."""

from __future__ import annotations

from typing import Any

import pytest

from privacy_milter.tlspolicy.query import main
from tests.harness.dnsstub import DnsStub


def test_tls_query_prints_the_socketmap_answer(dns_stub: DnsStub, dane_domain: Any,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    dane_domain("dane.test")
    dns_stub.add("plain.test", "MX", "10 mx.plain.test.")
    code = main(["--nameserver", "127.0.0.1", "--port", str(dns_stub.port), "--timeout", "2",
                 "dane.test", "plain.test"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("dane.test\tOK dane-only\tdane: ")
    assert out[1].startswith("plain.test\tNOTFOUND\t")


def test_tls_query_reports_temp_with_exit_2(dns_stub: DnsStub, dane_domain: Any,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    dane_domain("dane.test")
    dns_stub.servfail("_25._tcp.mx1.dane.test", "TLSA")
    code = main(["--nameserver", "127.0.0.1", "--port", str(dns_stub.port), "--timeout", "2", "dane.test"])
    assert code == 2
    assert "\tTEMP\t" in capsys.readouterr().out


def test_tls_query_classify_without_probe(dns_stub: DnsStub, dane_domain: Any,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    dane_domain("dane.test")
    dns_stub.add("plain.test", "MX", "10 mx.plain.test.")
    code = main(["--nameserver", "127.0.0.1", "--port", str(dns_stub.port), "--timeout", "2",
                 "--classify", "--no-probe", "dane.test", "plain.test"])
    out = capsys.readouterr().out
    assert code == 0
    assert "dane.test\tclass\tauthenticated" in out
    assert "plain.test\tclass\tunknown" in out


def test_tls_query_bad_usage() -> None:
    with pytest.raises(SystemExit):
        main([])
