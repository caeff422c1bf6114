"""A hung scanner engine slows only the customers who opted in to it (issue 13). clamd is
replaced by a server that accepts and never answers; a customer with `virus = true` and one
without send at the same time. Nothing is timed: the non-opted-in message must be answered
and delivered while the opted-in one is provably still waiting on the engine (its connection
held, its client not yet answered); once the engine goes away, the opted-in one gets its
on_error answer (tempfail)."""

from __future__ import annotations

import shutil
import smtplib
import threading

import pytest

from tests.harness import smtp
from tests.harness.deadpeer import SilentServer
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink
from tests.harness.builders import numbered_message as message

pytestmark = pytest.mark.postfix


@pytest.fixture
def root():
    path = harness_dir("engines-hung")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def policy(clamd_port: int) -> str:
    return f"""
[pipeline]
filters = ["dlp", "tls", "virus"]
[network]
hosted_domains = ["optin.test", "plain.test"]
trusted_networks = ["127.0.0.1/32"]
[filters.virus]
address = "inet:127.0.0.1:{clamd_port}"
timeout = 25
on_error = "tempfail"
[customers."optin.test"]
virus = true
"""


def test_non_opted_in_mail_is_answered_while_the_engine_hangs(root):
    with SilentServer() as clamd, Sink() as sink:
        milter = MilterProcess(root / "milter", policy(clamd.port)).start()
        postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec).start()
        outcome: dict[str, object] = {}

        def opted_in() -> None:
            try:
                outcome["qid"] = smtp.send(postfix.smtpd_port, message(1), "alice@optin.test", ["bob@far.example"])
            except smtplib.SMTPDataError as exc:
                outcome["code"] = exc.smtp_code
            except Exception as exc:  # the assertion below says what it was
                outcome["error"] = repr(exc)

        waiting = threading.Thread(target=opted_in, daemon=True)
        try:
            waiting.start()
            assert clamd.wait_accepted(1, timeout=20), "the opted-in message never reached the engine"
            # The engine holds the opted-in message. Another customer's mail goes through now.
            qid = smtp.send(postfix.smtpd_port, message(2), "carol@plain.test", ["dan@far.example"])
            line = milter.message_line(qid)
            assert "action=accept" in line
            delivered = sink.wait_for(1, timeout=30)
            assert any(b"message number 2" in m.raw for m in delivered)
            assert waiting.is_alive() and not outcome, "the opted-in message is still waiting on the engine"
            assert clamd.held() >= 1
            assert not any(b"message number 1" in m.raw for m in sink.messages)
            clamd.release()  # the engine drops the connection: on_error applies
            waiting.join(60)
            assert not waiting.is_alive()
            assert outcome.get("code") in (421, 450, 451, 452), outcome
        finally:
            clamd.release()
            waiting.join(60)
            postfix.stop()
            milter.stop()
