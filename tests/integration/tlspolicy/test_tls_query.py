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


def test_tls_query_answers_from_the_daemons_policy_file(dns_stub: DnsStub, tmp_path: Any,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A pinned partner: Postfix gets `secure` from the daemon; tls-query --policy says the same,
    and the policy's own resolver settings are used (no --nameserver given)."""
    dns_stub.add("bank.test", "MX", "10 mx.bank.test.")
    policy = tmp_path / "policy.toml"
    policy.write_text(f'[tls_policy]\nnameserver = "127.0.0.1"\nnameserver_port = {dns_stub.port}\n'
                      'dns_timeout = 2\n[tls_policy.pins]\n"bank.test" = "secure"\n')
    assert main(["--policy", str(policy), "bank.test"]) == 0
    with_policy = capsys.readouterr().out
    assert with_policy.startswith("bank.test\tOK secure")
    assert main(["--nameserver", "127.0.0.1", "--port", str(dns_stub.port), "--timeout", "2", "bank.test"]) == 0
    assert capsys.readouterr().out.startswith("bank.test\tNOTFOUND")  # without the policy: no pin


def test_tls_query_with_an_invalid_policy_says_why(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text('[tls_policy.pins]\n"bank.test" = "sometimes"\n')
    assert main(["--policy", str(policy), "bank.test"]) == 1
    assert 'policy.toml:2: tls_policy.pins."bank.test": must be one of' in capsys.readouterr().err
