"""The metrics endpoint of a real daemon behind a throwaway Postfix, scraped over HTTP:
the counters equal what was sent, and no address, domain or card number is in the scrape."""

from __future__ import annotations

import shutil
import smtplib
import time
import urllib.request
from email.message import EmailMessage

import pytest
from prometheus_client.parser import text_string_to_metric_families

from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS
from tests.harness import smtp
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.ports import free_port
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink

pytestmark = pytest.mark.postfix

CARD = "4539 1488 0343 6467"   # Luhn-valid, not a published test number
CLEAN, CARDS = 20, 10


def message(n: int, body: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "alice@shop.example", "bob@far.example", f"scrape {n}"
    m.set_content(body)
    return m.as_bytes()


def scrape(port: int) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    return text, samples


def total(samples, name: str, **labels: str) -> float:
    return sum(v for (n, ls), v in samples.items() if n == name and all((k, val) in ls for k, val in labels.items()))


def test_scraped_counters_equal_the_messages_sent_and_name_nobody():
    root = harness_dir("metrics")
    port = free_port()
    milter = MilterProcess(root / "milter", f'[network]\ntrusted_networks = ["127.0.0.1/32"]\n'
                                            f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    sink = Sink()
    postfix = None
    try:
        milter.start()
        sink.start()
        postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec,
                                  mynetworks="127.0.0.1/32",
                                  extra_main={k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()}).start()
        refused = 0
        for n in range(CLEAN + CARDS):
            body = f"Here is my card: {CARD} exp 09/27\n" if n % 3 == 0 else f"Hello Bob, note {n}.\n"
            try:
                smtp.send(postfix.smtpd_port, message(n, body), "alice@shop.example", ["bob@far.example"])
            except smtplib.SMTPDataError as exc:
                assert exc.smtp_code == 550
                refused += 1
        assert refused == CARDS
        deadline = time.monotonic() + 20
        while True:  # the answer reaches Postfix just after the count: bounded wait
            text, samples = scrape(port)
            if total(samples, "privacy_milter_messages_total") >= CLEAN + CARDS or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert total(samples, "privacy_milter_messages_total") == CLEAN + CARDS
        assert total(samples, "privacy_milter_messages_total", action="reject") == CARDS
        assert total(samples, "privacy_milter_messages_total", action="accept") == CLEAN
        assert total(samples, "privacy_milter_findings_total", category="payment_card") == CARDS
        assert total(samples, "privacy_milter_message_duration_seconds_count") == CLEAN + CARDS
        assert total(samples, "privacy_milter_filter_duration_seconds_count", filter="dlp") == CLEAN + CARDS
        assert total(samples, "privacy_milter_store_write_failures_total") == 0
        assert ("privacy_milter_store_backlog_records", ()) in samples
        assert total(samples, "privacy_milter_build_info") == 1
        assert sink.wait_for(CLEAN, 30) and sink.count() == CLEAN
        for leak in ("alice", "bob", "shop.example", "far.example", CARD, CARD.replace(" ", ""), "127.0.0.1"):
            assert leak not in text, leak
    finally:
        if postfix is not None:
            postfix.stop()
        sink.stop()
        milter.stop()
        shutil.rmtree(root, ignore_errors=True)
