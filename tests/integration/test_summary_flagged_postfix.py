"""Issue 23, items 5, 6 and 2's summary side, through a real Postfix, the real daemon and its log.

privacy-milter is attached to a throwaway Postfix whose routes are those of a real host:
a relayhost named by host name (`[localhost]:PORT`, a plain sink), a destination reached
directly over STARTTLS and one reached directly in clear, and a hosted domain whose mail is
relayed onward to its mailbox server by Postfix's `relay` transport (smtp; in clear). Postfix has no
milter_header_checks, so X-Privacy-Encrypt is ignored: flagged mail leaves in clear text, as it
did on the host of issue 23. The delivery-log reader reads Postfix's own log; the report is
built from the daemon's store. Nothing here is stubbed but the week's bounds.
"""

from __future__ import annotations

import asyncio
import smtplib
import sqlite3
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.maillog import FilePositionStore, LogFollower
from privacy_milter.metrics import Metrics, flagged_clear_deliveries
from privacy_milter.summary.flagged_watch import FlaggedClearWatch
from privacy_milter.summary.job import MaillogPoll
from privacy_milter.summary.model import ClearHop, Count
from privacy_milter.summary.queries import SqliteQuery, build_report, iso_week_of
from privacy_milter.summary.relays import configured_relays
from privacy_milter.summary.render import render

pytestmark = pytest.mark.postfix
WAIT = 30.0
TZ = ZoneInfo("UTC")
CARD = "4539 1488 0343 6467"   # Luhn-valid, not a published test number
HOSTED = "hosted.example"

POLICY = f"""
[network]
hosted_domains = ["{HOSTED}", "shop.example"]
trusted_networks = []
[filters.dlp.actions]
payment_card = {{ high = "tag", medium = "tag", low = "log" }}
[filters.tls]
flagged_unknown = "encrypt"
"""


def message(to: str, body: str, sender: str = "alice@shop.example") -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, to, "issue 23"
    m.set_content(body)
    return m.as_bytes()


def wait_until(what, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (got := what()):
            return got
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


def records(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


@pytest.fixture
def host(postfix_factory, milter_factory, sink, tls_sink, tmp_path):
    """The milter, a Postfix routed as a real host, and the five messages delivered."""
    milter = milter_factory(POLICY)
    routes = (f"tls.example=smtp:[127.0.0.1]:{tls_sink.port},"
              f"plain.example=smtp:[127.0.0.1]:{sink.port},"
              f"{HOSTED}=relay:[127.0.0.1]:{sink.port}")   # relay_domains mail: the relay transport
    pf = postfix_factory(relay_port=sink.port, milter=milter.spec, mynetworks="127.0.0.0/8",
                         relay_domains=HOSTED, extra_main={"transport_maps": f"inline:{{{routes}}}",
                                                           "relayhost": f"[localhost]:{sink.port}"})
    card = f"Please charge card {CARD} today."
    # outbound (the sendmail command: non_smtpd_milters), three flagged, one not
    pf.sendmail(message("bob@far.example", card), "alice@shop.example", ["bob@far.example"])      # relayhost
    pf.sendmail(message("carol@plain.example", card), "alice@shop.example", ["carol@plain.example"])
    pf.sendmail(message("dave@tls.example", card), "alice@shop.example", ["dave@tls.example"])
    pf.sendmail(message("erin@plain.example", "lunch?"), "alice@shop.example", ["erin@plain.example"])
    # inbound: a remote sender's mail for a hosted domain, relayed onward to its mailbox server
    with smtplib.SMTP("127.0.0.1", pf.smtpd_port, timeout=WAIT) as smtp:
        smtp.sendmail("zed@remote.example", [f"frank@{HOSTED}"],
                      message(f"frank@{HOSTED}", "hello", "zed@remote.example"))
    sink.wait_for(4, timeout=WAIT)
    tls_sink.wait_for(1, timeout=WAIT)
    wait_until(lambda: records(milter.store_path) >= 5)
    return pf, milter, tmp_path


def poll_all(poll: MaillogPoll, count: int) -> int:
    got = 0
    deadline = time.monotonic() + WAIT
    while got < count and time.monotonic() < deadline:
        got += asyncio.run(poll())
        time.sleep(0.2)
    return got


async def report_of(store: Path, relays: frozenset[str]):
    import aiosqlite

    async with aiosqlite.connect(store) as db:
        week = iso_week_of(datetime.now(UTC), TZ)
        return await build_report(SqliteQuery(db), week, TZ, 10, hosted=[HOSTED, "shop.example"],
                                  relays=relays)


def test_flagged_mail_sent_in_clear_is_first_in_the_summary_and_in_the_metric(host):
    pf, milter, tmp = host
    relays = configured_relays(pf.etc_dir)
    assert relays == {"localhost"}                      # read from Postfix, not from policy.toml
    policy = policy_mod.parse(f'[store]\npath = "{milter.store_path}"\n')
    metrics = Metrics()
    counter = flagged_clear_deliveries(metrics)
    follower = LogFollower(pf.maillog_path, FilePositionStore(tmp / "pos"), tz=TZ)
    poll = MaillogPoll(policy, follower, FlaggedClearWatch(policy.store, counter, relays))
    assert poll_all(poll, 5) == 5
    follower.close()

    assert metrics.registry.get_sample_value("privacy_milter_flagged_clear_deliveries_total",
                                             {"hop": "relay"}) == 1.0     # far.example, via the relayhost
    assert metrics.registry.get_sample_value("privacy_milter_flagged_clear_deliveries_total",
                                             {"hop": "direct"}) == 1.0    # plain.example; tls.example not

    r = asyncio.run(report_of(milter.store_path, relays))
    assert r.flagged_clear.messages == 2 and r.flagged_clear.deliveries == 2
    assert set(r.flagged_clear.hops) == {ClearHop("far.example", "localhost", 1),
                                         ClearHop("plain.example", "", 1)}
    out = render(r)
    assert out.subject.startswith(f"Mail privacy summary, week {r.week_number} {r.year}: "
                                  "ACTION NEEDED, 2 flagged messages sent in clear")
    body = out.text.split("\n", 4)[4]                   # after the title, its rule, the period
    first = body.split("\n\n\n", 1)[0] if "\n\n\n" in body else body.split("HEADLINE", 1)[0]
    assert body.startswith("ACTION NEEDED: FLAGGED MAIL SENT IN CLEAR TEXT")
    assert "far.example" in first and "the relay localhost" in first and "plain.example" in first
    assert "its mail server" in first and "tls.example" not in first
    assert out.html.index('id="attention"') < out.html.index('id="headline"')
    assert "far.example" in out.html.split('id="headline"')[0]
    for part in (out.text, out.html):
        assert CARD not in part and CARD.replace(" ", "") not in part and "alice" not in part


def test_inbound_mail_relayed_onward_is_not_outbound(host):
    """Item 5: the hosted domain's relay to its mailbox server is not an outbound delivery and
    its domain is not a destination that 'received mail in clear text'."""
    pf, milter, tmp = host
    policy = policy_mod.parse(f'[store]\npath = "{milter.store_path}"\n')
    follower = LogFollower(pf.maillog_path, FilePositionStore(tmp / "pos2"), tz=TZ)
    assert poll_all(MaillogPoll(policy, follower), 5) == 5
    follower.close()
    with sqlite3.connect(milter.store_path) as db:   # the daemon's own record says inbound
        assert db.execute("SELECT direction FROM messages m JOIN recipients r ON r.message_id = m.id "
                          "WHERE r.domain = ?", (HOSTED,)).fetchall() == [("inbound",)]

    r = asyncio.run(report_of(milter.store_path, frozenset()))
    assert r.totals.deliveries_out == 4                 # far, plain x2, tls: not the hosted relay
    assert r.totals.messages_in == 1 and r.totals.messages_out == 4
    assert HOSTED not in {c.key for c in r.tls.clear_domains}
    assert {c.key: c.n for c in r.tls.clear_domains} == {"plain.example": 2, "far.example": 1}
    relayed = asyncio.run(report_of(milter.store_path, configured_relays(pf.etc_dir)))
    assert {c.key: c.n for c in relayed.tls.clear_domains} == {"plain.example": 2}
    assert relayed.tls.clear_relays == (Count("localhost", 1),)    # item 2: the relay's hop
    assert sum(c.n for c in r.tls.outbound_by_level) == 4
    assert (r.tls.relayed_inbound, r.tls.relayed_inbound_clear) == (1, 1)
    assert "Inbound mail relayed onward" in render(r).text


def test_the_daemon_serves_the_flagged_in_clear_counter(postfix_factory, milter_factory, sink, tls_sink,
                                                          tmp_path):
    """The whole daemon: its own delivery-log reader (every second) and its metrics endpoint."""
    from prometheus_client.parser import text_string_to_metric_families

    from tests.harness.ports import free_port

    routes = f"tls.example=smtp:[127.0.0.1]:{tls_sink.port}"
    pf = postfix_factory(relay_port=sink.port, mynetworks="127.0.0.0/8",
                         extra_main={"transport_maps": f"inline:{{{routes}}}"})
    port = free_port()
    milter = milter_factory(POLICY + f'[summary]\nmaillog = "{pf.maillog_path}"\n'
                            f'maillog_state = "{tmp_path / "pos"}"\nmaillog_interval = 1\n'
                            f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    pf.postconf(smtpd_milters=milter.spec, non_smtpd_milters=milter.spec)
    pf.reload()

    def flagged_clear() -> float:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
            text = r.read().decode()
        return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "privacy_milter_flagged_clear_deliveries_total")

    assert flagged_clear() == 0.0                       # the series exist from the start
    card = f"Please charge card {CARD} today."
    pf.sendmail(message("bob@far.example", card), "alice@shop.example", ["bob@far.example"])
    pf.sendmail(message("dave@tls.example", card), "alice@shop.example", ["dave@tls.example"])
    pf.sendmail(message("erin@far.example", "lunch?"), "alice@shop.example", ["erin@far.example"])
    sink.wait_for(2, timeout=WAIT)
    tls_sink.wait_for(1, timeout=WAIT)
    wait_until(lambda: flagged_clear() >= 1.0)
    deadline = time.monotonic() + 3.0                   # three more polls: nothing else is counted
    while time.monotonic() < deadline:
        assert flagged_clear() == 1.0                   # the TLS copy and the unflagged one are not
        time.sleep(0.5)
    assert "were sent without TLS" in milter.log_path.read_text()
