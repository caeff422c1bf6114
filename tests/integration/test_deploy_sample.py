"""docs/DEPLOY.md step 4, followed: the shipped sample message is refused with 550 5.7.1 by
the shipped policy, offline (`privacy-milter scan`) and through Postfix (swaks --data)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from privacy_milter.devrun import set_key, write_dev_policy

pytestmark = pytest.mark.postfix

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "deploy" / "sample" / "card.eml"
CLI = Path(sys.executable).parent / "privacy-milter"


def test_privacy_milter_scan_rejects_the_sample():
    out = subprocess.run([str(CLI), "scan", "--policy", str(REPO / "policy.toml"), str(SAMPLE)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{SAMPLE}: reject: payment_card=1 (high)"


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks_with_the_sample_gets_550_from_the_shipped_policy(milter_factory, postfix_factory, sink):
    milter = milter_factory()
    milter.stop()
    # the shipped policy.toml, its written paths moved into the test's folders; the socket
    # open to Postfix's user (the deployment uses the group instead)
    dev = write_dev_policy(REPO / "policy.toml", milter.sock_dir, milter.base / "store", milter.policy_path)
    assert dev.filters == ("dlp", "tls")
    milter.policy_path.write_text(set_key(milter.policy_path.read_text(), "milter", "socket_mode", "0666"))
    milter.start()
    pf = postfix_factory(relay_port=sink.port, milter=milter.spec)
    out = subprocess.run(["swaks", "--server", f"127.0.0.1:{pf.smtpd_port}", "--from", "you@your-domain.example",
                          "--to", "someone@example.net", "--data", str(SAMPLE)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "<** 550 5.7.1" in out.stdout, out.stdout
    line = milter.wait_for_log(r"direction=outbound [^\n]*action=reject findings=payment_card:1:high", 10).group(0)
    assert "4539" not in line and "6467" not in line
    assert sink.messages == []
