"""Postfix's own socketmap client (postmap -q) against the responder: the real wire format."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from privacy_milter.tlspolicy.service import TlsPolicyService
from tests.harness.dnsstub import DnsStub

pytestmark = pytest.mark.skipif(shutil.which("postmap") is None, reason="Postfix (postmap) not installed")

Make = Callable[..., Awaitable[TlsPolicyService]]


async def postmap(config_dir: Path, socket_path: str, key: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "postmap", "-c", str(config_dir), "-q", key, f"socketmap:unix:{socket_path}:tlspolicy",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 30)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode().strip(), err.decode()


async def test_tls_postmap_reads_our_answers(tls_service: Make, short_dir: Path, dane_domain: Any,
                                             mtasts_domain: Any, dns_stub: DnsStub) -> None:
    config_dir = short_dir / "postfix"
    config_dir.mkdir()
    (config_dir / "main.cf").write_text("compatibility_level = 3.6\n")
    dane_domain("dane.test")
    mtasts_domain("sts.test", mx=("mx1", "mx2"))
    dns_stub.add("plain.test", "MX", "10 mx.plain.test.")
    dane_domain("broken.test")
    dns_stub.servfail("_25._tcp.mx1.broken.test", "TLSA")
    service = await tls_service(pins={"[relay.test]:587": "encrypt"})
    path = service.config.socket_path

    assert await postmap(config_dir, path, "dane.test") == (0, "dane-only", "")
    assert (await postmap(config_dir, path, "sts.test"))[:2] == (0, "secure match=mx1.sts.test:mx2.sts.test")
    assert (await postmap(config_dir, path, "[relay.test]:587"))[:2] == (0, "encrypt")
    code, out, _ = await postmap(config_dir, path, "plain.test")
    assert (code, out) == (1, "")  # NOTFOUND: Postfix's own default level applies
    code, out, err = await postmap(config_dir, path, "broken.test")
    assert code != 0 and out == ""
    assert "TLS policy lookup failed" in err  # TEMP reaches Postfix as a lookup error, not as "no policy"
