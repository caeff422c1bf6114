"""Issue 23: `privacy-milter policy check` warns when flagged mail would have no safe route:
a pipeline with dlp but no tls, and a [tls_policy] resolver that does not answer (a UDP
socket on loopback that reads nothing, as 127.0.0.1:53 on a stock Debian 12 host)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from privacy_milter import cli

from tests.harness.dnsstub import DnsStub


@pytest.fixture
def silent() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


def check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "policy.toml"
    path.write_text(text)
    code = cli.main(["policy", "check", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_dlp_without_tls_is_a_warning_not_a_refusal(tmp_path, capsys):
    code, text = check(tmp_path, '[pipeline]\nfilters = ["dlp"]\n[tls_policy]\nenabled = false\n', capsys)
    assert code == 0 and "OK" in text
    assert 'warning: [pipeline] filters has "dlp" but not "tls"' in text and "clear text" in text


def test_a_silent_resolver_is_a_warning_saying_what_to_do(tmp_path, capsys, silent):
    code, text = check(tmp_path, f'[tls_policy]\nnameserver = "127.0.0.1"\nnameserver_port = {silent}\n', capsys)
    assert code == 0 and "OK" in text
    assert f"warning: [tls_policy] nameserver 127.0.0.1:{silent} did not answer" in text
    assert "unbound" in text


def test_a_validating_resolver_and_a_full_pipeline_give_no_warning(tmp_path, capsys, monkeypatch):
    # Postfix set up as deploy/postfix says (the stock header check routes the marker), so the
    # only thing left to warn about would be the resolver.
    etc = tmp_path / "postfix-etc"
    etc.mkdir()
    checks = Path(__file__).resolve().parents[2] / "deploy/postfix/privacy-milter-header-checks.regexp"
    (etc / "main.cf").write_text(f"myhostname = mx.privacy-milter.test\nmilter_header_checks = regexp:{checks}\n")
    (etc / "master.cf").write_text("")
    monkeypatch.setenv("MAIL_CONFIG", str(etc))
    with DnsStub() as stub:
        stub.add(".", "SOA", "a.root-servers.net. nstld.verisign-grs.com. 1 1800 900 604800 86400")
        stub.secure(".")
        code, text = check(tmp_path, f'[tls_policy]\nnameserver = "127.0.0.1"\nnameserver_port = {stub.port}\n',
                           capsys)
    assert code == 0 and "warning" not in text, text
