"""Metrics: counted from verdicts with bounded labels, served over HTTP on loopback."""

import urllib.request

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.errors import PolicyError
from privacy_milter.metrics import Metrics
from privacy_milter.model import (Action, Confidence, Direction, DirectionDecision, Finding, Message, Recipient,
                                  Result, Session, TlsInfo, Verdict)
from privacy_milter.runtime import Runtime
from tests.harness.ports import free_port


def _message(direction, tls=None):
    m = Message(Session("c", client_addr="192.0.2.7", tls=TlsInfo(tls)), mail_from="alice@shop.example",
                recipients=[Recipient("bob@far.example")], queue_id="4M")
    m.direction = DirectionDecision(direction, "test")
    return m


def _value(metrics, name, **labels):
    return metrics.registry.get_sample_value(name, labels or None)


def test_verdicts_are_counted_with_labels_from_fixed_sets_only():
    m = Metrics(["dlp", "virus", "spam", "tls"])
    card = Finding("payment_card", Confidence.HIGH, 2)
    m.observe(_message(Direction.OUTBOUND), Verdict(Action.REJECT, (
        Result("dlp", Action.REJECT, findings=(card,), seconds=0.002),)), 0.003)
    m.observe(_message(Direction.INBOUND, "TLSv1.3"), Verdict(Action.TAG, (
        Result("virus", Action.TAG, facts=(("virus", "Win.Test.EICAR_HDB-1"),), seconds=0.01),
        Result("spam", facts=(("spam", "no"), ("spam_score", "1.2"))),
        Result("tls", error="timed out after 5s", seconds=5.0))), 5.1)
    m.observe(_message(Direction.INBOUND, "SSLv2-weird"), Verdict(Action.ACCEPT, ()), 0.001)
    assert _value(m, "privacy_milter_messages_total", direction="outbound", action="reject") == 1
    assert _value(m, "privacy_milter_messages_total", direction="inbound", action="tag") == 1
    assert _value(m, "privacy_milter_findings_total", category="payment_card", confidence="high") == 1
    assert _value(m, "privacy_milter_scanner_results_total", scanner="virus", result="infected") == 1
    assert _value(m, "privacy_milter_scanner_results_total", scanner="spam", result="ham") == 1
    assert _value(m, "privacy_milter_filter_errors_total", filter="tls", kind="timeout") == 1
    assert _value(m, "privacy_milter_inbound_tls_total", version="TLSv1.3") == 1
    assert _value(m, "privacy_milter_inbound_tls_total", version="other") == 1
    assert _value(m, "privacy_milter_filter_duration_seconds_count", filter="dlp") == 1
    text = _exposition(m)
    for leak in ("EICAR", "shop.example", "far.example", "alice", "192.0.2.7", "4M"):
        assert leak not in text


def _exposition(m):
    from prometheus_client import generate_latest
    return generate_latest(m.registry).decode()


def test_policy_refuses_a_non_loopback_metrics_address_unless_asked():
    with pytest.raises(PolicyError) as err:
        policy_mod.parse('[metrics]\nlisten = "0.0.0.0:9469"\n')
    assert "metrics.listen" in str(err.value) and "loopback" in str(err.value)
    assert policy_mod.parse('[metrics]\nlisten = "0.0.0.0:9469"\nallow_remote = true\n').metrics.address == \
        ("0.0.0.0", 9469)
    with pytest.raises(PolicyError):
        policy_mod.parse('[metrics]\nlisten = "localhost"\n')
    assert policy_mod.parse("").metrics.address is None  # off by default


async def test_the_endpoint_serves_what_the_daemon_counted(tmp_path):
    port = free_port()
    path = tmp_path / "policy.toml"
    path.write_text(f'[store]\npath = "{tmp_path}/m.db"\nkey_file = "{tmp_path}/k"\n[tls_policy]\nenabled = false\n'
                    f'[metrics]\nlisten = "127.0.0.1:{port}"\n[network]\nhosted_domains = ["hosted.example"]\n')
    rt = await Runtime.start(policy_mod.load(path), watch=False)
    try:
        for i in range(3):
            m = Message(Session("c", client_addr="192.0.2.1", auth_authen="alice"), mail_from="a@shop.example",
                        recipients=[Recipient("b@far.example")], queue_id=f"4Q{i}")
            m.write_body(b"card 4539 1488 0343 6467 exp 09/27\r\n" if i == 0 else b"hello\r\n")
            await rt.process(m)
        import asyncio
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode())
    finally:
        await rt.stop()
    assert 'privacy_milter_messages_total{action="reject",direction="outbound"} 1.0' in body
    assert 'privacy_milter_messages_total{action="accept",direction="outbound"} 2.0' in body
    assert 'privacy_milter_findings_total{category="payment_card",confidence="high"} 1.0' in body
    assert "privacy_milter_build_info" in body
    assert "4539" not in body and "shop.example" not in body


async def test_reloads_are_counted_ok_and_refused(tmp_path):
    path = tmp_path / "policy.toml"
    base = f'[store]\npath = "{tmp_path}/m.db"\nkey_file = "{tmp_path}/k"\n[tls_policy]\nenabled = false\n'
    path.write_text(base)
    rt = await Runtime.start(policy_mod.load(path), policy_path=path, watch=False)
    try:
        assert rt.reload("test") is True
        path.write_text(base + "[nonsense]\n")
        assert rt.reload("test") is False
    finally:
        await rt.stop()
    assert _value(rt.metrics, "privacy_milter_policy_reloads_total", result="ok") == 1
    assert _value(rt.metrics, "privacy_milter_policy_reloads_total", result="refused") == 1


def test_dkim_results_are_counted_with_bounded_labels_and_no_domain():
    m = Metrics(["dkim"])
    out = _message(Direction.OUTBOUND)
    m.observe(out, Verdict(Action.ACCEPT, (Result("dkim", facts=(("dkim", "signed:rsa-sha256,ed25519-sha256"),)),)), 0.01)
    m.observe(out, Verdict(Action.ACCEPT, (Result("dkim", facts=(("dkim", "unsigned:not a signing domain"),)),)), 0.01)
    inbound = _message(Direction.INBOUND, "TLSv1.3")
    m.observe(inbound, Verdict(Action.ACCEPT, (Result("dkim", facts=(
        ("dkim_result", "bank.example:pass,evil.example:fail,x.example:weird"),)),)), 0.01)
    m.observe(inbound, Verdict(Action.ACCEPT, (Result("dkim", facts=(("dkim_result", "none"),)),)), 0.01)
    dkim = "privacy_milter_dkim_results_total"
    assert _value(m, dkim, direction="outbound", result="signed") == 1
    assert _value(m, dkim, direction="outbound", result="unsigned") == 1
    assert _value(m, dkim, direction="inbound", result="pass") == 1
    assert _value(m, dkim, direction="inbound", result="fail") == 1
    assert _value(m, dkim, direction="inbound", result="other") == 1
    assert _value(m, dkim, direction="inbound", result="none") == 1
    text = _exposition(m)
    assert "bank.example" not in text and "evil.example" not in text


async def test_store_backlog_failures_and_drops_are_read_from_the_writer(tmp_path):
    from privacy_milter.store import SqliteStore

    store = SqliteStore(tmp_path / "m.db")
    m = Metrics()
    m.watch_store(lambda: store.pending, lambda: store.health.failures, lambda: store.health.dropped)
    store._failed("store write failed: disk I/O error")
    store._failed("store write failed: disk I/O error")
    store.health.dropped = 3
    assert _value(m, "privacy_milter_store_write_failures_total") == 2
    assert _value(m, "privacy_milter_store_dropped_records_total") == 3
    assert _value(m, "privacy_milter_store_backlog_records") == 0
    assert store.health.failing_since is not None, "the writer's own hook still ran"


def test_every_fact_the_counters_count_is_named_in_counted_facts():
    """The counted facts are these seven, each changes a sample, and any other fact name
    leaves every sample as it was, whichever filter gives it and whatever its value."""
    from privacy_milter.metrics import COUNTED_FACTS
    from privacy_milter.registry import FILTERS

    def samples(m):
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for metric in m.registry.collect() for s in metric.samples if not s.name.endswith("_created")}

    # Every fact name the filters give (and a few more), written out: not read from COUNTED_FACTS.
    names = {"virus", "spam", "flagged_action", "flagged_route", "flagged_tls", "dkim", "dkim_result",
             "dkim_forged_ar", "unscannable_reasons", "unscannable", "dlp", "dlp_rules", "tls", "tls_refused",
             "deadline", "spam_score", "tls_decision", ""}
    assert COUNTED_FACTS == {"virus", "spam", "flagged_action", "dkim", "dkim_result", "unscannable_reasons",
                             "tls_decision"}
    for key in sorted(names):
        m = Metrics(FILTERS)
        before = samples(m)
        for name in ("virus", "spam", "dkim", "dlp", "tls", "flagged_routing"):
            for value in ("clean", "yes", "no", "signed:rsa-sha256", "d.example:pass", "too_large", "encrypt",
                          "failed"):
                for failed in (False, True):
                    m._fact(name, key, value, failed)
        assert (samples(m) != before) == (key in COUNTED_FACTS), key
