"""Issue 23 in the summary's figures: flagged mail sent in clear (item 6), the relay's clear hop
(item 2), inbound mail relayed onward (item 5), flagged messages whose TLS decision failed
(item 1), and the reader's metric. Over the seeded SQLite store plus flagged_seed.py's records."""

from __future__ import annotations

from datetime import datetime

import aiosqlite
import pytest

from flagged_seed import CARD, ENCRYPT, HOSTED, RELAY, add, extras, via  # type: ignore[import-not-found]
from summary_seed import TZ, WEEK, rec, seed, t  # type: ignore[import-not-found]

from privacy_milter.metrics import Metrics, flagged_clear_deliveries
from privacy_milter.policy import StoreSettings
from privacy_milter.summary.flagged_watch import PENDING_SECONDS, FlaggedClearWatch
from privacy_milter.summary.model import ClearHop, Count, FlaggedClear
from privacy_milter.summary.queries import READER_IDLE, SqliteQuery, build_report
from privacy_milter.summary.relays import configured_relays, parse_relayhost, transport_nexthop
from privacy_milter.summary.render import render

@pytest.fixture
async def query(tmp_path):
    path = tmp_path / "metadata.db"
    await seed(path)
    await add(path, *extras())
    async with aiosqlite.connect(path) as db:
        yield SqliteQuery(db)


async def test_flagged_messages_sent_in_clear_are_paired_by_queue_id(query):
    r = await build_report(query, WEEK, TZ, 10, hosted=HOSTED, relays=[RELAY])
    assert r.flagged_clear == FlaggedClear(3, 3, (ClearHop("far.example", "", 2),
                                                  ClearHop("other.example", RELAY, 1)), unverified=1)
    plain = await build_report(query, WEEK, TZ, 10, hosted=HOSTED)      # no relayhost known
    assert plain.flagged_clear.hops == (ClearHop("far.example", "", 2), ClearHop("other.example", "", 1))


async def test_the_relay_gets_the_clear_hop_not_the_destination_domain(query):
    r = await build_report(query, WEEK, TZ, 10, hosted=HOSTED, relays=[RELAY])
    assert r.tls.clear_relays == (Count(RELAY, 1),)
    assert "other.example" not in {c.key for c in r.tls.clear_domains}
    text = render(r).text
    assert "Sent to the relayhost in clear text" in text and RELAY in text


async def test_inbound_mail_relayed_onward_is_not_an_outbound_delivery(query):
    r = await build_report(query, WEEK, TZ, 10, hosted=HOSTED)
    keys = {c.key for c in r.tls.clear_domains}
    assert "shop.example" not in keys and "clinic.example" not in keys
    assert (r.tls.relayed_inbound, r.tls.relayed_inbound_clear) == (2, 2)
    # by the record alone (no hosted list): R1 is inbound; X1, with no record, stays outbound
    bare = await build_report(query, WEEK, TZ, 10)
    keys = {c.key for c in bare.tls.clear_domains}
    assert "shop.example" not in keys and "clinic.example" in keys
    assert bare.totals.deliveries_out == r.totals.deliveries_out + 1
    assert (bare.tls.relayed_inbound, bare.tls.relayed_inbound_clear) == (1, 1)


async def test_flagged_messages_whose_tls_decision_failed_are_counted_by_the_action_taken(query):
    r = await build_report(query, WEEK, TZ, 10, hosted=HOSTED)
    assert r.health.tls_decision_failed == 2
    assert r.health.tls_decision_failed_by_action == (Count("encrypt", 1), Count("reject", 1))
    text = " ".join(render(r).text.split())
    assert "Flagged messages whose TLS decision failed 2" in text
    assert "2 flagged messages: the TLS decision failed (resolver down?" in text
    assert "sent encrypt-only 1, refused 1" in text
    # refused for want of a decision, not because the recipient could not do TLS
    assert (r.tls.refused_for_tls, r.tls.held_for_tls) == (1, 1)


async def test_the_flagged_figure_is_first_in_both_parts_and_in_the_subject(query):
    out = render(await build_report(query, WEEK, TZ, 10, hosted=HOSTED, relays=[RELAY]))
    assert out.subject == ("Mail privacy summary, week 48 2026: ACTION NEEDED, 3 flagged messages "
                           "sent in clear; 28 messages, 65.2% encrypted")  # 15 of 23 hand-overs
    lines = out.text.splitlines()
    assert lines[4] == "ACTION NEEDED: FLAGGED MAIL SENT IN CLEAR TEXT"
    head = "\n".join(lines[:lines.index("HEADLINE")])
    assert "3 flagged messages (sensitive data found and acted on) left without TLS" in " ".join(head.split())
    assert "far.example" in head and f"the relay {RELAY}" in head and "its mail server" in head
    assert "1 flagged message passed on for delivery never showed in Postfix's delivery log" in \
        " ".join(head.split())
    assert out.html.index('id="attention"') < out.html.index('id="headline"')
    attention = out.html[out.html.index('id="attention"'):out.html.index('id="headline"')]
    assert "far.example" in attention and RELAY in attention and "background" in attention


async def test_no_flagged_mail_in_clear_means_no_such_section(tmp_path):
    path = tmp_path / "m.db"
    await seed(path)
    async with aiosqlite.connect(path) as db:
        r = await build_report(SqliteQuery(db), WEEK, TZ, 10)
    assert r.flagged_clear == FlaggedClear() and READER_IDLE not in r.missing   # the seed's reader polled
    out = render(r)
    assert "ACTION NEEDED" not in out.subject + out.text and 'id="attention"' not in out.html


async def test_without_the_delivery_log_flagged_mail_is_unverified_not_fine(tmp_path):
    """No reader (no delivery rows): the summary says it cannot tell, it does not show 0."""
    path = tmp_path / "m.db"
    records, _ = extras()
    await add(path, records, [])
    async with aiosqlite.connect(path) as db:
        r = await build_report(SqliteQuery(db), WEEK, TZ, 10)
    assert r.flagged_clear == FlaggedClear(unverified=5)     # F1, F2, F3, D2, NOQUEUE: all tagged, passed on
    assert READER_IDLE in r.missing                          # and the outbound figures are absent, not 0
    out = render(r)
    assert "the delivery-log reader did not run this week" in " ".join(out.text.split())
    assert out.text.splitlines()[4] == "CHECK: FLAGGED MAIL NOT SEEN IN THE DELIVERY LOG"
    assert "ACTION NEEDED" not in out.subject


async def test_a_customer_report_has_no_operator_attention_section(query):
    r = await build_report(query, WEEK, TZ, 10, scope="shop.example", hosted=HOSTED)
    assert r.flagged_clear == FlaggedClear() and "ACTION NEEDED" not in render(r).text


async def test_the_reader_counts_flagged_deliveries_in_clear_into_the_metric(tmp_path):
    path = tmp_path / "m.db"
    records, deliveries = extras()
    await add(path, records, [])
    metrics = Metrics()
    counter = flagged_clear_deliveries(metrics)
    now = [t(2026, 11, 26, 13)]
    watch = FlaggedClearWatch(StoreSettings(path=path), counter, frozenset({RELAY}), clock=lambda: now[0])
    late = via(t(2026, 11, 26, 12, 1), "L1", "far.example", "clear", "mx.far.example")

    assert await watch(deliveries + [late]) == 3          # F1, F4 direct; F3 to the relay
    value = metrics.registry.get_sample_value
    assert value("privacy_milter_flagged_clear_deliveries_total", {"hop": "direct"}) == 2
    assert value("privacy_milter_flagged_clear_deliveries_total", {"hop": "relay"}) == 1
    # L1's record was not in the store yet (the writer behind): asked about again, counted once
    await add(path, [rec(t(2026, 11, 26, 12), "outbound", "shop.example", ("far.example",), action="tag",
                         findings=CARD, facts=ENCRYPT, queue_id="L1")], [])
    assert await watch([]) == 1 and await watch([]) == 0
    assert value("privacy_milter_flagged_clear_deliveries_total", {"hop": "direct"}) == 3
    # a delivery whose record never comes is forgotten after PENDING_SECONDS
    await watch([via(now[0], "NEVER", "far.example", "clear", "mx.far.example")])
    assert "NEVER" in watch._pending
    now[0] += PENDING_SECONDS + 1
    await watch([])
    assert "NEVER" not in watch._pending


def test_the_metric_exists_at_zero_for_both_hops():
    metrics = Metrics()
    assert flagged_clear_deliveries(metrics) is flagged_clear_deliveries(metrics)   # one per registry
    for hop in ("direct", "relay"):
        assert metrics.registry.get_sample_value("privacy_milter_flagged_clear_deliveries_total",
                                                 {"hop": hop}) == 0.0


def test_relayhost_values_give_the_names_postfix_logs_in_relay():
    assert parse_relayhost("[smtp.relay.example]:587") == {"smtp.relay.example"}
    assert parse_relayhost("[Relay.Example.]") == {"relay.example"}
    assert parse_relayhost("relay.example:25, [b.example]:465") == {"relay.example", "b.example"}
    assert parse_relayhost("[127.0.0.1]:2525") == {"127.0.0.1"}
    assert parse_relayhost("") == frozenset()
    assert transport_nexthop("smtp:[relay.example]:587") == {"relay.example"}
    assert transport_nexthop("smtp") == frozenset() and transport_nexthop("smtp:relay.example") == frozenset()
    assert datetime.fromtimestamp(t(2026, 11, 26), TZ).isocalendar()[1] == 48   # the seed's week


def test_the_relays_come_from_postfix_itself(tmp_path):
    """postconf -c DIR: relayhost, smtp_fallback_relay and default_transport's next hop; a
    config postconf cannot read gives none (and a warning), never an exception."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "main.cf").write_text("relayhost = [smtp.relay.example]:587\n"
                                 "smtp_fallback_relay = [backup.relay.example]\n"
                                 "default_transport = smtp:[transport.relay.example]:2525\n")
    assert configured_relays(etc) == {"smtp.relay.example", "backup.relay.example", "transport.relay.example"}
    assert configured_relays(tmp_path / "nowhere") == frozenset()
