"""Issue 23: the start-up / `policy check` probe of [tls_policy] nameserver, against real
UDP servers on loopback: one that never answers (a stock Debian host has no resolver on
127.0.0.1; queries hang), the DNS stub without DNSSEC (no AD), and the stub validating."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from privacy_milter.tlspolicy.config import TlsPolicyConfig
from privacy_milter.tlspolicy.health import resolver_warning

from tests.harness.dnsstub import DnsStub


@pytest.fixture
def silent() -> Iterator[int]:
    """A bound UDP port that reads nothing and answers nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture
def stub() -> Iterator[DnsStub]:
    with DnsStub() as stub:
        stub.add(".", "SOA", "a.root-servers.net. nstld.verisign-grs.com. 2026120800 1800 900 604800 86400")
        yield stub


def config(port: int, dane: bool = True) -> TlsPolicyConfig:
    return TlsPolicyConfig(nameserver="127.0.0.1", nameserver_port=port, dane_enabled=dane)


async def test_a_resolver_that_never_answers_is_a_warning_with_what_to_do(silent: int) -> None:
    started = time.monotonic()
    warning = await resolver_warning(config(silent), timeout=0.5)
    assert time.monotonic() - started < 2.0  # bounded
    assert warning is not None
    assert f"127.0.0.1:{silent} did not answer" in warning
    assert "unbound" in warning and "[tls_policy] nameserver" in warning and "flagged_unknown" in warning


async def test_a_resolver_without_dnssec_validation_is_a_warning_when_dane_is_on(stub: DnsStub) -> None:
    warning = await resolver_warning(config(stub.port))
    assert warning is not None and "without the AD bit" in warning and "unbound" in warning
    assert await resolver_warning(config(stub.port, dane=False)) is None  # DANE off: answering is enough


async def test_a_validating_resolver_passes(stub: DnsStub) -> None:
    stub.secure(".")
    assert await resolver_warning(config(stub.port)) is None
    assert stub.queries and stub.queries[-1][:2] == (".", "SOA")
