"""doctor's scanner line against the real clamd and spamd of the harness: each answers its
own PING (clamd over its unix socket and TCP), and an engine that is not there fails its
line with what happened, bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.doctor import engine_checks
from privacy_milter.doctor.model import Setup, Status
from tests.harness.engines import Clamd, Spamd
from tests.harness.ports import free_port

pytestmark = pytest.mark.engines


def lines(clamd_address: str, spamd_address: str) -> list[tuple[Status, str]]:
    policy = policy_mod.parse(f"""
[pipeline]
filters = ["dlp", "tls", "virus", "spam"]
[filters.virus]
address = "{clamd_address}"
[filters.spam]
address = "{spamd_address}"
""")
    return [(f.status, f.text) for f in engine_checks.check(Setup(Path("policy.toml"), policy, None))]


def test_doctor_pings_clamd_and_spamd(clamd: Clamd, spamd: Spamd) -> None:
    unix, spamd_at = f"unix:{clamd.socket_path}", f"inet:127.0.0.1:{spamd.port}"
    assert lines(unix, spamd_at) == [(Status.OK, f"clamd (virus) at {unix} answers PING"),
                                     (Status.OK, f"spamd (spam) at {spamd_at} answers PING")]
    tcp = f"inet:127.0.0.1:{clamd.port}"
    assert lines(tcp, spamd_at)[0] == (Status.OK, f"clamd (virus) at {tcp} answers PING")


def test_doctor_says_which_engine_is_down(tmp_path: Path) -> None:
    dead = f"inet:127.0.0.1:{free_port()}"
    started = time.monotonic()
    found = lines(f"unix:{tmp_path}/no-clamd.sock", dead)
    assert time.monotonic() - started < 5
    assert found == [
        (Status.FAIL, f"clamd (virus) at unix:{tmp_path}/no-clamd.sock: No such file or directory; opted-in mail "
                      "gets the filter's on_error"),
        (Status.FAIL, f"spamd (spam) at {dead}: Connection refused; opted-in mail gets the filter's on_error"),
    ]
