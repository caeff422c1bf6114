"""doctor on a host where everything is down or silent: no daemon, a resolver and servers
that accept and never answer. Every line still comes, each says what it found, and the
whole run stays under 15 s (each check is bounded; the checks run side by side)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from privacy_filters.dkim.keys import keygen
from tests.harness.milter_process import VENV_BIN

RUN_BOUND = 15.0


@pytest.fixture
def silent() -> Iterator[tuple[int, int]]:
    """(tcp port, udp port) on loopback that take connections and datagrams and never answer."""
    tcp = socket.socket()
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(16)  # the kernel completes the handshake; nobody ever reads
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    try:
        yield tcp.getsockname()[1], udp.getsockname()[1]
    finally:
        tcp.close()
        udp.close()


def test_everything_down_every_line_bounded(tmp_path: Path, silent: tuple[int, int]) -> None:
    tcp, udp = silent
    (tmp_path / "dkim").mkdir()
    key, _ = keygen("shop.test", "s1", "ed25519-sha256", tmp_path / "dkim")
    postfix = tmp_path / "postfix"
    postfix.mkdir()
    (postfix / "main.cf").write_text("myhostname = mx.down.test\n")
    (postfix / "master.cf").write_text("")
    policy = tmp_path / "policy.toml"
    policy.write_text(f"""
[milter]
socket = "unix:{tmp_path}/sock/milter.sock"
[store]
path = "{tmp_path}/store/meta.db"
key_file = "{tmp_path}/store/address.key"
[tls_policy]
socket = "{tmp_path}/sock/tlspolicy.sock"
nameserver = "127.0.0.1"
nameserver_port = {udp}
[network]
hosted_domains = ["shop.test"]
[pipeline]
filters = ["dlp", "tls", "virus", "spam", "dkim"]
[filters.virus]
address = "inet:127.0.0.1:{tcp}"
[filters.spam]
backend = "rspamd"
address = "http://127.0.0.1:{tcp}"
[filters.dkim]
nameserver = "127.0.0.1:{udp}"
dns_timeout = 3
[filters.dkim.keys."shop.test"]
"s1" = {{ key_file = "{key}", algorithm = "ed25519-sha256" }}
[summary]
recipients = ["admin@shop.test"]
maillog = "{tmp_path}/no-such.log"
[smtp]
host = "127.0.0.1"
port = {tcp}
""")
    started = time.monotonic()
    done = subprocess.run([str(VENV_BIN / "privacy-milter"), "doctor", "--policy", str(policy),
                           "--postfix-config", str(postfix), "--json"], capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert took < RUN_BOUND, f"doctor took {took:.1f}s with everything down"
    out = json.loads(done.stdout)
    assert done.returncode == out["exit"] == 2
    said = {}
    for line in out["checks"]:
        said.setdefault(line["check"], []).append((line["status"], line["text"]))
    assert said["policy"] == [("ok", f"{policy} parses (filters: dlp, tls, virus, spam, dkim)")]
    assert said["host name"] == [("ok", "this host is mx.down.test")]
    assert said["milter socket"][0][0] == "fail" and "no socket at" in said["milter socket"][0][1]
    assert said["milter answers"] == [("skip", f"could not check: no socket at {tmp_path}/sock/milter.sock")]
    assert said["postfix milters"][0][0] == "fail"
    assert said["resolver"][0][0] == "fail" and "did not answer within 2s" in said["resolver"][0][1]
    assert said["store"][0][0] == "warn" and "the daemon creates it at its first start" in said["store"][0][1]
    assert said["address key"][0][0] == "warn"
    assert said["dkim"][0][0] == "fail" and said["dkim"][0][1].startswith("dns error: shop.test selector s1")
    assert said["summary smtp"][0][0] == "fail" and "timed out" in said["summary smtp"][0][1]
    assert said["delivery log"][0][0] == "fail" and "does not exist" in said["delivery log"][0][1]
    assert [s for s, _ in said["scanners"]] == ["fail", "fail"]
    assert "clamd (virus)" in said["scanners"][0][1] and "rspamd (spam)" in said["scanners"][1][1]
