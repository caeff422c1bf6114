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
        self.reloads = Counter("privacy_milter_policy_reloads_total", "Policy reloads, by result", ["result"],
                               registry=r)
        self.store_backlog = Gauge("privacy_milter_store_backlog_records",
                                   "Records waiting to be written to the store", registry=r)
        self.store_failures = Counter("privacy_milter_store_write_failures_total",
                                      "Failed attempts to write a batch of records", registry=r)
        Info("privacy_milter_build", "The running version", registry=r).info({"version": _version()})
        self._server: Any = None

    # --- what the runtime reports -------------------------------------------------------

    def observe(self, message: Message, verdict: Verdict, seconds: float) -> None:
        direction = bounded(message.direction.direction.value if message.direction else "", DIRECTIONS)
        self.messages.labels(direction, bounded(verdict.action.label, ACTIONS)).inc()
        self.message_seconds.observe(seconds)
        if direction == "inbound":
            self.inbound_tls.labels(bounded(message.session.tls.version or "none", TLS_VERSIONS)).inc()
        for f in verdict.findings:
            self.findings.labels(bounded(f.category, CATEGORIES), bounded(f.confidence.label, CONFIDENCES)).inc()
        for result in verdict.results:
            name = bounded(result.filter, self.filters)
            if result.seconds:
                self.filter_seconds.labels(name).observe(result.seconds)
            if result.error:
                kind = "timeout" if result.error.startswith(("timed out", "no verdict")) else "error"
                self.filter_errors.labels(name, kind).inc()
            for key, value in result.facts:
                self._fact(result.filter, key, value, failed=bool(result.error))

    def _fact(self, filter_name: str, key: str, value: str, failed: bool) -> None:
        if key == "virus" and filter_name == "virus":
            self.scanner.labels("virus", "error" if failed else value if value in VIRUS_RESULTS else "infected").inc()
        elif key == "spam" and filter_name == "spam":
            self.scanner.labels("spam", "error" if failed else SPAM_RESULTS.get(value, "other")).inc()
        elif key == "flagged_action":
            self.flagged.labels(bounded(value, FLAGGED_ACTIONS)).inc()
        elif key == "unscannable_reasons":  # comma-separated
            for reason in value.split(","):
                self.unscannable.labels(bounded(reason, UNSCANNABLE)).inc()

    def reloaded(self, ok: bool) -> None:
        self.reloads.labels("ok" if ok else "refused").inc()

    def watch_store(self, backlog: Callable[[], int]) -> None:
        self.store_backlog.set_function(backlog)

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


def _version() -> str:
    try:
        return metadata.version("privacy-milter")
    except metadata.PackageNotFoundError:
        return "unknown"

