"""The delivery-log reader end to end: mail through a throwaway Postfix to a STARTTLS sink
and a plain sink; the maillog Postfix writes yields the right Delivery rows, no address in
them, and a restarted reader counts nothing twice."""

from __future__ import annotations

import time
from dataclasses import astuple
from email.message import EmailMessage

import pytest

from privacy_milter.maillog.follow import FilePositionStore, LogFollower

pytestmark = pytest.mark.postfix
WAIT = 30.0


def message(to: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "alice@shop.example", to, "maillog e2e"
    m.set_content("hello")
    return m.as_bytes()


def poll_until(follower: LogFollower, count: int) -> list:
    got: list = []
    deadline = time.monotonic() + WAIT
    while len(got) < count and time.monotonic() < deadline:
        got += follower.poll()
        time.sleep(0.2)
    return got


def test_deliveries_to_tls_and_plain_sinks_become_the_right_rows(postfix_factory, sink, tls_sink, tmp_path):
    pf = postfix_factory(relay_port=sink.port, extra_main={
        "transport_maps": f"inline:{{tls.example=smtp:[127.0.0.1]:{tls_sink.port}}}"})
    policies = {"tls.example": "opportunistic", "plain.example": "opportunistic"}
    state = FilePositionStore(tmp_path / "maillog.pos")
    reader = LogFollower(pf.maillog_path, state, policy_for=policies.__getitem__)
    assert reader.poll() == []                       # start-up lines only

    pf.sendmail(message("bob@tls.example"), "alice@shop.example", ["bob@tls.example"])
    pf.sendmail(message("carol@plain.example"), "alice@shop.example",
                ["carol@plain.example", "dave@plain.example"])
    tls_sink.wait_for(1, timeout=WAIT)
    sink.wait_for(1, timeout=WAIT)
    got = poll_until(reader, 3)

    assert sorted((d.rcpt_domain, d.tls_level, d.status, d.dsn) for d in got) == [
        ("plain.example", "clear", "sent", "2.0.0"),
        ("plain.example", "clear", "sent", "2.0.0"),
        ("tls.example", "encrypted", "sent", "2.0.0")]
    tls_row = next(d for d in got if d.rcpt_domain == "tls.example")
    assert tls_row.tls_version == tls_sink.messages[0].tls_version == "TLSv1.3"
    assert tls_row.relay == "127.0.0.1" and tls_row.policy == "opportunistic"
    assert all(d.tls_version is None for d in got if d.tls_level == "clear")
    assert len({d.queue_id for d in got}) == 2
    for d in got:
        text = repr(astuple(d))
        assert "@" not in text and "bob" not in text and "carol" not in text and "dave" not in text
    assert reader.stats.unparsed == 0
    reader.close()

    again = LogFollower(pf.maillog_path, state, policy_for=policies.__getitem__)
    assert again.poll() == []                        # a restart counts nothing twice
    pf.sendmail(message("erin@tls.example"), "alice@shop.example", ["erin@tls.example"])
    tls_sink.wait_for(2, timeout=WAIT)
    later = poll_until(again, 1)
    assert [(d.rcpt_domain, d.tls_level) for d in later] == [("tls.example", "encrypted")]
    again.close()
