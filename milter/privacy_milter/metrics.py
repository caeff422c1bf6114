"""Live figures for Prometheus (prometheus_client), on a loopback port when [metrics] is on.

Conventions as Prometheus asks: the `privacy_milter_` prefix, base units (seconds, bytes),
counters ending `_total`. Every label takes values from a fixed set: the core's (actions,
confidences, directions, TLS versions) here, the filters' from their declarations
(plugin.FilterSpec: finding categories, and each Symbol's counter and labels), so no label
can ever carry an address, a domain or a found value, and no series can grow without bound.
A value outside its set is counted as "other". No filter is named here.
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
from .plugin import Counter as Declared
from .plugin import FilterSpec, Symbol, symbol_table
from .registry import FILTERS

log = logging.getLogger("privacy_milter.metrics")

ACTIONS = frozenset(a.label for a in Action)
CONFIDENCES = frozenset({"low", "medium", "high"})
TLS_VERSIONS = frozenset({"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "none"})
DIRECTIONS = frozenset({"inbound", "outbound"})

# Seconds: a message is judged in a few ms; scanners and a deadline push it to tens of s.
DURATION_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


def bounded(value: str, allowed: Iterable[str]) -> str:
    return value if value in allowed else "other"


class Metrics:
    """The daemon's metrics, in a registry of their own (not the process-wide default)."""

    def __init__(self, filters: Iterable[str] = (), specs: Iterable[FilterSpec] | None = None) -> None:
        """`filters`: the names the filter label takes; `specs`: the declarations the
        counters and their labels come from (by default every filter the registry knows)."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.filters = frozenset(filters) | {"deadline"}
        specs = list(FILTERS.values() if specs is None else specs)
        self.categories = frozenset(c for spec in specs for c in spec.categories)
        self._symbols = symbol_table(specs)
        r = self.registry
        self.messages = Counter("privacy_milter_messages_total", "Messages judged, by direction and the action taken",
                                ["direction", "action"], registry=r)
        self.findings = Counter("privacy_milter_findings_total", "Sensitive-data findings, by category and confidence",
                                ["category", "confidence"], registry=r)
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
        self.reloads = Counter("privacy_milter_policy_reloads_total", "Policy reloads, by result", ["result"],
                               registry=r)
        self.store_backlog = Gauge("privacy_milter_store_backlog_records",
                                   "Records waiting to be written to the store", registry=r)
        self._store = _StoreCounters()
        r.register(self._store)
        self._declared = _declared_counters(specs, r)
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
        direction = bounded(message.decision.direction.value if message.decision else "", DIRECTIONS)
        child = self._child
        child(self.messages, direction, bounded(verdict.action.label, ACTIONS)).inc()
        self.message_seconds.observe(seconds)
        if direction == "inbound":
            child(self.inbound_tls, bounded(message.session.tls.version or "none", TLS_VERSIONS)).inc()
        for f in verdict.findings:
            child(self.findings, bounded(f.category, self.categories), bounded(f.confidence.label, CONFIDENCES)).inc()
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
        """Count one fact as its filter declared it (plugin.Symbol counter and labels); a fact
        no filter declared a counter for (dlp, tls, dlp_rules, ...) is not counted."""
        symbol = self._symbols.get((filter_name, key))
        if symbol is None or symbol.counter is None or symbol.labels is None:
            return
        metric = self._declared[symbol.counter.name]
        for labels in symbol.labels(value, failed):
            (self._child(metric, *labels) if labels else metric).inc()

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


def _declared_counters(specs: Iterable[FilterSpec], registry: CollectorRegistry) -> dict[str, Counter]:
    """One Prometheus counter per declared counter (two filters may share one: the scanners')."""
    counters: dict[str, Counter] = {}
    for spec in specs:
        for symbol in spec.symbols:
            declared: Declared | None = symbol.counter
            if declared is not None and declared.name not in counters:
                counters[declared.name] = Counter(declared.name, declared.help, list(declared.labels),
                                                  registry=registry)
    return counters


def counted(symbol: Symbol) -> bool:
    return symbol.counter is not None and symbol.labels is not None


# The fact names some counter counts (every filter the registry knows).
COUNTED_FACTS = frozenset(s.name for spec in FILTERS.values() for s in spec.symbols if counted(s))


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
