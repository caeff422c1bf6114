"""Issue 23, item 1, on a real Postfix: with the TLS policy service's resolver dead (a stock
Debian 12 host runs nothing on 127.0.0.1:53, and a query there hangs), a flagged message
never leaves in clear text.

The world: a throwaway Postfix whose relayhost is a plain-text sink (no STARTTLS), the
privacy-encrypt transport and milter_header_checks from deploy/postfix, and the real
`privacy-milter run` with the policy's defaults for [filters.tls] (timeout 5, on_error
"accept", flagged_unknown "encrypt") and [tls_policy] nameserver pointed at a UDP socket
on loopback that reads and drops every query. Before the fix, the tls filter timed out,
on_error = "accept" applied and the message reached the plain sink with X-Privacy-DLP on it.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS

from tests.harness import smtp
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink
from tests.integration.tls_e2e_helpers import copy_deploy_file, encrypt_transport_lines, wait_until

pytestmark = [pytest.mark.postfix, pytest.mark.timeout(120)]

IBAN = "GB53 MIDL 4005 1571 2345 67"
SENDER = "alice@shop.example"
RCPT = "bob@far.example"
POLICY = """
[network]
trusted_networks = ["127.0.0.1/32"]
hosted_domains = ["shop.example"]
"""


@dataclass
class World:
    root: Path
    plain_sink: Sink
    milter: MilterProcess
    postfix: PostfixInstance


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    root = harness_dir("tls-fail-closed")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, root, True)
        dead = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        dead.bind(("127.0.0.1", 0))  # reads nothing, answers nothing: queries hang
        plain = Sink(hostname="relay.plain.test").start()
        stack.callback(plain.stop)
        milter = MilterProcess(root / "milter", POLICY,
                               f'enabled = true\nnameserver = "127.0.0.1"\nnameserver_port = {dead.getsockname()[1]}\n')
        stack.callback(milter.stop)
        milter.start()
        header_checks = copy_deploy_file("privacy-milter-header-checks.regexp", root)
        strip = copy_deploy_file("privacy-milter-strip.regexp", root)
        postfix = PostfixInstance(root / "postfix", relay_port=plain.port, milter=milter.spec, extra_main={
            "milter_header_checks": f"regexp:{header_checks}",
            # The encrypt-only transport has no TLS peer here: keep the message queued rather
            # than bounce it (a bounce would carry it back to the sender: not what is tested).
            "soft_bounce": "yes",
            **{k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()},
        })
        with open(postfix.etc_dir / "master.cf", "a") as f:
            f.write(encrypt_transport_lines(strip))
        stack.callback(postfix.stop)
        postfix.start()
        yield World(root, plain, milter, postfix)


def message(marker: str, body: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, f"test {marker}"
    m.set_content(f"{body}\n\nmarker {marker}\n")
    return m.as_bytes()


def facts_of(milter: MilterProcess, queue_id: str) -> dict[str, str]:
    def read() -> dict[str, str] | None:
        if not milter.store_path.exists():
            return None
        with contextlib.closing(sqlite3.connect(f"file:{milter.store_path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT facts FROM messages WHERE queue_id = ?", (queue_id,)).fetchone()
        return json.loads(row[0]) if row else None
    return wait_until(read, 10, f"the record of {queue_id}")


def test_the_daemon_says_at_start_that_its_resolver_does_not_answer(world: World) -> None:
    line = world.milter.wait_for_log(r"\[tls_policy\] nameserver 127\.0\.0\.1:\d+ did not answer within 2s[^\n]*", 10)
    assert "unbound" in line.group(0) and "flagged_unknown" in line.group(0)
    assert "privacy-milter ready on" in world.milter.log().split(line.group(0))[0], "start-up did not wait for it"


def test_unflagged_mail_reaches_the_plain_relay(world: World) -> None:
    """The control: the plain path works, so the next test's silence means something."""
    marker = f"plain-{time.monotonic_ns()}"
    smtp.send(world.postfix.smtpd_port, message(marker, "Lunch on Friday?"), SENDER, [RCPT])
    wait_until(lambda: any(marker.encode() in m.raw for m in world.plain_sink.messages), 30,
               "the unflagged message at the plain sink")


def test_flagged_mail_with_a_dead_resolver_goes_encrypt_only_never_in_clear(world: World) -> None:
    marker = f"flagged-{time.monotonic_ns()}"
    started = time.monotonic()
    queue_id = smtp.send(world.postfix.smtpd_port, message(marker, f"Please pay to IBAN {IBAN}, thanks"),
                         SENDER, [RCPT])
    answered = time.monotonic() - started
    line = world.milter.message_line(queue_id)
    # The plain-text relay never sees it (it waits in the queue for TLS instead).
    wait_until(lambda: any(e["queue_id"] == queue_id for e in world.postfix.queue())
               or any(marker.encode() in m.raw for m in world.plain_sink.messages), 10, f"{queue_id} queued or sent")
    time.sleep(1.0)  # a wrongly routed message reaches the sink within a second on loopback
    assert not any(marker.encode() in m.raw for m in world.plain_sink.messages + world.plain_sink.refused), \
        f"the flagged message was delivered in clear text:\n{world.milter.log()[-3000:]}\n{world.postfix.maillog_tail(30)}"
    assert f"{queue_id}: to=<{RCPT}>, relay=127.0.0.1[127.0.0.1]:{world.plain_sink.port}" not in world.postfix.maillog()
    # Postfix routed it to the encrypt-only transport.
    world.postfix.wait_for_log(rf"{queue_id}: milter-header-filter: header X-Privacy-Encrypt: .*: privacy-encrypt:")
    # The milter said why, with the queue id, and which safe action applied; the record says so.
    world.milter.wait_for_log(rf"{queue_id}: .*TLS decision failed .*flagged_unknown = encrypt", 10)
    assert "action=tag findings=iban" in line and "failed=" not in line, line
    facts = facts_of(world.milter, queue_id)
    assert facts.get("tls_decision") == "failed" and facts.get("flagged_action") == "encrypt", facts
    assert answered < 5.0, "the classification has its own budget inside the filter's 5 s timeout"
    assert world.milter.alive()
