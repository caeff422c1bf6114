"""Live figures for Prometheus (prometheus_client), on a loopback port when [metrics] is on.

Conventions as Prometheus asks: the `privacy_milter_` prefix, base units (seconds, bytes),
counters ending `_total`. Every label takes values from a set fixed in this file (actions,
categories, confidences, filter names, TLS versions, scanner outcomes), so no label can
ever carry an address, a domain or a found value, and no series can grow without bound.
A value outside its set is counted as "other".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.exposition import start_http_server

from .model import Action, Message, Verdict

log = logging.getLogger("privacy_milter.metrics")

ACTIONS = frozenset(a.label for a in Action)
CONFIDENCES = frozenset({"low", "medium", "high"})
CATEGORIES = frozenset({"payment_card", "iban", "uk_bank_account", "password"})
TLS_VERSIONS = frozenset({"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "none"})
DIRECTIONS = frozenset({"inbound", "outbound"})
VIRUS_RESULTS = frozenset({"clean", "not-opted-in", "too-large", "breaker-open", "skipped"})
SPAM_RESULTS = {"yes": "spam", "no": "ham", "not-opted-in": "not-opted-in", "too-large": "too-large",
                "breaker-open": "breaker-open"}
FLAGGED_ACTIONS = frozenset({"encrypt", "reject", "quarantine", "tempfail", "accept", "tag"})
DKIM_RESULTS = frozenset({"pass", "fail", "neutral", "temperror", "permerror", "none", "signed", "unsigned"})
UNSCANNABLE = frozenset({"too_large", "too_deep", "encrypted", "unsupported", "time", "budget", "malformed"})

# Seconds: a message is judged in a few ms; scanners and a deadline push it to tens of s.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def bounded(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else "other"


class Metrics:
    """The daemon's metrics, in a registry of their own (not the process-wide default)."""

    def __init__(self, filters: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.filters = frozenset(filters) | {"deadline"}
        r = self.registry
        self.messages = Counter("privacy_milter_messages_total", "Messages judged, by direction and the action taken",
                                ["direction", "action"], registry=r)
        self.findings = Counter("privacy_milter_findings_total", "Sensitive-data findings, by category and confidence",
                                ["category", "confidence"], registry=r)
        self.unscannable = Counter("privacy_milter_unscannable_total",
                                   "Messages the content checks could not read whole, by reason", ["reason"], registry=r)
        self.message_seconds = Histogram("privacy_milter_message_duration_seconds",
                                         "Time from end of message to the answer given to Postfix",
                                         buckets=DURATION_BUCKETS, registry=r)
        self.filter_seconds = Histogram("privacy_milter_filter_duration_seconds",
                                        "Time each filter took per message (its prepare work included)",
                                        ["filter"], buckets=DURATION_BUCKETS, registry=r)
        self.filter_errors = Counter("privacy_milter_filter_errors_total",
                                     "Filters that failed or timed out and applied on_error", ["filter", "kind"],
                                     registry=r)
        self.inbound_tls = Counter("privacy_milter_inbound_tls_total",
                                   "Inbound messages by the TLS version of the client session", ["version"],
                                   registry=r)
        self.scanner = Counter("privacy_milter_scanner_results_total",
                               "Spam and virus scanner outcomes", ["scanner", "result"], registry=r)
        self.flagged = Counter("privacy_milter_flagged_outbound_total",
                               "Outbound messages with acted-on findings, by how they were routed", ["action"],
                               registry=r)
        self.flagged_tls_failed = Counter("privacy_milter_flagged_tls_decision_failed",
                                          "Flagged outbound messages whose TLS decision failed (flagged_unknown "
                                          "applied; fact tls_decision=failed)", registry=r)
        self.reloads = Counter("privacy_milter_policy_reloads_total", "Policy reloads, by result", ["result"],
                               registry=r)
        self.store_backlog = Gauge("privacy_milter_store_backlog_records",
                                   "Records waiting to be written to the store", registry=r)
        self._store = _StoreCounters()
        r.register(self._store)
        self.dkim = Counter("privacy_milter_dkim_results_total",
                            "DKIM: outbound signed/unsigned, inbound one per signature by result (none: no "
                            "signature)", ["direction", "result"], registry=r)
        Info("privacy_milter_build", "The running version", registry=r).info({"version": _version()})
        self._server: Any = None
        # labels() validates and locks on every call; the label sets are bounded (above), so
        # each child is looked up once and kept: observe() runs once per message.
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}

    def _child(self, metric: Any, *values: str) -> Any:
        key = (id(metric), values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    # --- what the runtime reports -------------------------------------------------------

    def observe(self, message: Message, verdict: Verdict, seconds: float) -> None:
        direction = bounded(message.direction.direction.value if message.direction else "", DIRECTIONS)
        child = self._child
        child(self.messages, direction, bounded(verdict.action.label, ACTIONS)).inc()
        self.message_seconds.observe(seconds)
        if direction == "inbound":
            child(self.inbound_tls, bounded(message.session.tls.version or "none", TLS_VERSIONS)).inc()
        for f in verdict.findings:
            child(self.findings, bounded(f.category, CATEGORIES), bounded(f.confidence.label, CONFIDENCES)).inc()
        for result in verdict.results:
            name = bounded(result.filter, self.filters)
            if result.seconds:
                child(self.filter_seconds, name).observe(result.seconds)
            if result.error:
                kind = "timeout" if result.error.startswith(("timed out", "no verdict")) else "error"
                child(self.filter_errors, name, kind).inc()
            for key, value in result.facts:
                self._fact(result.filter, key, value, failed=bool(result.error))

    def _fact(self, filter_name: str, key: str, value: str, failed: bool) -> None:
        """Count one fact of a filter's result; most (dlp, tls, dlp_rules, ...) have no counter."""
        count = _FACT_COUNTS.get(key)
        if count is not None:
            count(self, filter_name, value, failed)

    # One per counted fact name (_FACT_COUNTS); some count only from the filter they name.

    def _virus(self, filter_name: str, value: str, failed: bool) -> None:
        if filter_name == "virus":
            self._child(self.scanner, "virus", "error" if failed else value if value in VIRUS_RESULTS
                        else "infected").inc()

    def _spam(self, filter_name: str, value: str, failed: bool) -> None:
        if filter_name == "spam":
            self._child(self.scanner, "spam", "error" if failed else SPAM_RESULTS.get(value, "other")).inc()

    def _flagged_action(self, filter_name: str, value: str, failed: bool) -> None:
        self._child(self.flagged, bounded(value, FLAGGED_ACTIONS)).inc()

    def _tls_decision(self, filter_name: str, value: str, failed: bool) -> None:
        if value == "failed":
            self.flagged_tls_failed.inc()

    def _dkim(self, filter_name: str, value: str, failed: bool) -> None:
        if filter_name == "dkim":  # "signed:alg,..." | "unsigned:why" | "tempfail:error"
            self._child(self.dkim, "outbound", "signed" if value.startswith("signed") else "unsigned").inc()

    def _dkim_result(self, filter_name: str, value: str, failed: bool) -> None:
        if filter_name == "dkim":  # "d.example:pass,e.example:fail" | "none"
            for item in value.split(","):
                self._child(self.dkim, "inbound", bounded(item.rsplit(":", 1)[-1].strip(), DKIM_RESULTS)).inc()

    def _unscannable_reasons(self, filter_name: str, value: str, failed: bool) -> None:
        for reason in value.split(","):  # comma-separated
            self._child(self.unscannable, bounded(reason, UNSCANNABLE)).inc()

    def reloaded(self, ok: bool) -> None:
        self.reloads.labels("ok" if ok else "refused").inc()

    def watch_store(self, backlog: Callable[[], int], failures: Callable[[], int] | None = None,
                    dropped: Callable[[], int] | None = None) -> None:
        """The store writer's figures, read at each scrape: records waiting, failed write (or
        open) attempts and records dropped with the backlog full, since the daemon started."""
        self.store_backlog.set_function(backlog)
        self._store.failures = failures or self._store.failures
        self._store.dropped = dropped or self._store.dropped

    # --- serving ------------------------------------------------------------------------

    def serve(self, host: str, port: int) -> None:
        """Start the HTTP endpoint (a thread of prometheus_client's own) on host:port."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = (server, thread)
        log.info("metrics on http://%s:%d/metrics", host, port)

    def stop(self) -> None:
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join(5)
            self._server = None


# The counted fact names and what each adds to: _fact looks a name up once, and no other
# name is counted.
_FACT_COUNTS: dict[str, Callable[[Metrics, str, str, bool], None]] = {
    "virus": Metrics._virus, "spam": Metrics._spam, "flagged_action": Metrics._flagged_action,
    "tls_decision": Metrics._tls_decision, "dkim": Metrics._dkim, "dkim_result": Metrics._dkim_result, "unscannable_reasons": Metrics._unscannable_reasons,
}
COUNTED_FACTS = frozenset(_FACT_COUNTS)


class _StoreCounters(Collector):
    """Counters whose values the store writer keeps: read at scrape time, never reset."""

    def __init__(self) -> None:
        self.failures: Callable[[], int] = lambda: 0
        self.dropped: Callable[[], int] = lambda: 0

    def collect(self) -> Iterable[CounterMetricFamily]:
        yield CounterMetricFamily("privacy_milter_store_write_failures",
                                  "Failed attempts to open the store or write a batch of records",
                                  value=self.failures())
        yield CounterMetricFamily("privacy_milter_store_dropped_records",
                                  "Records dropped because the backlog was full (the store failing long)",
                                  value=self.dropped())

    def describe(self) -> Iterable[CounterMetricFamily]:
        return self.collect()


def count_failures(writer: Any) -> Callable[[], int]:
    """A count of the writer's failed attempts. The writer counts `health.failures` when it
    has that field; until then its one failure hook (`_failed`) is wrapped to count."""
    health = getattr(writer, "health", None)
    if health is not None and hasattr(health, "failures"):
        return lambda: int(health.failures)
    count = [0]
    inner = writer._failed

    def failed(error: str) -> None:
        count[0] += 1
        inner(error)

    writer._failed = failed
    return lambda: count[0]


def _version() -> str:
    try:
        return metadata.version("privacy-milter")
    except metadata.PackageNotFoundError:
        return "unknown"



# --- Flagged mail sent in clear text (the delivery-log reader's pairing; docs/METRICS.md) ------
# A block of its own: the reader job (summary/flagged_watch.py) adds this counter to the
# daemon's registry when it starts, so a daemon without the reader has no such series.
import weakref  # noqa: E402  (kept in this block)

HOPS = frozenset({"direct", "relay"})
_flagged_clear: "weakref.WeakKeyDictionary[CollectorRegistry, Counter]" = weakref.WeakKeyDictionary()


def flagged_clear_deliveries(metrics: Metrics) -> Counter:
    """privacy_milter_flagged_clear_deliveries_total{hop}: deliveries of flagged messages (DLP
    findings acted on) that Postfix's log shows sent without TLS, `hop` = direct (to the
    recipient's server) or relay (to the relayhost). One counter per registry, both series at 0."""
    counter = _flagged_clear.get(metrics.registry)
    if counter is None:
        counter = Counter("privacy_milter_flagged_clear_deliveries",
                          "Deliveries of flagged messages sent without TLS, as the delivery-log reader "
                          "paired them with their records", ["hop"], registry=metrics.registry)
        for hop in sorted(HOPS):
            counter.labels(hop)
        _flagged_clear[metrics.registry] = counter
    return counter
