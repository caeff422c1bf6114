"""The DLP check in the pipeline: scan the message (privacy_filters.dlp) and apply policy.

The scan is CPU work, so it runs in a worker thread: the event loop keeps serving other
messages meanwhile. Only categories, confidences and counts leave this module.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from privacy_milter.model import Action, Confidence, Finding, Message, Reply, Result
from privacy_milter.plugin import (ACTION_WORDS, Counter, Explanation, FilterContext, FilterSettings, FilterSpec, Site, Symbol,
                                   default_settings, read_common)
from privacy_milter.services import Services
from privacy_milter.tomlcheck import Reader

from .dlp import CATEGORIES, Limits, ModulusTable, Report, scan
from .dlp.explain import explain_with_reasons
from .dlp.mime import REASONS as UNSCANNABLE_REASONS
from .dlp.pdftext import stop_workers, warm_up
from .words import and_list, describe

log = logging.getLogger("privacy_milter.dlp")

LARGE_MESSAGE = 4 * 1024 * 1024  # bodies from this size on take turns to be scanned


# --- settings: [filters.dlp] and [customers."domain".dlp_actions] --------------------------

# CATEGORIES (dlp/report.py) and UNSCANNABLE_REASONS (dlp/mime.py) are declared once, in
# dlp/, and reach the core through SPEC (categories, symbols): metrics, the log line and the
# summary read them there.
ActionTable = Mapping[tuple[str, Confidence], Action]


def _default_dlp_actions() -> ActionTable:
    strict = {"payment_card", "password"}
    table: dict[tuple[str, Confidence], Action] = {}
    for category in CATEGORIES:
        table[(category, Confidence.HIGH)] = Action.REJECT if category in strict else Action.TAG
        table[(category, Confidence.MEDIUM)] = Action.TAG
        table[(category, Confidence.LOW)] = Action.ACCEPT
    return MappingProxyType(table)


# Why a scan could not read everything (UNSCANNABLE_REASONS), each with its own action in
# [filters.dlp.unscannable]. Mail that could not be checked is tagged by default so admins
# see it; "malformed" (broken files, which are common and harmless) is only logged.
_DEFAULT_UNSCANNABLE = {reason: Action.TAG for reason in UNSCANNABLE_REASONS} | {
    "malformed": Action.ACCEPT}


@dataclass(frozen=True)
class DlpSettings(FilterSettings):
    scan_inbound: bool = False
    allow_senders: frozenset[str] = frozenset()  # addresses or @domains whose mail is not scanned
    actions: ActionTable = field(default_factory=_default_dlp_actions)
    modulus_table: Path | None = None
    max_message_bytes: int = 25 * 1024 * 1024  # scanned per message; the rest counts as unscannable
    large_scans: int = 1  # messages of 4 MB or more scanned at the same time (memory bound)
    max_scan_seconds: float = 5.0  # one scan stops here (or at the milter deadline) as "time"
    unscannable: Mapping[str, Action] = field(
        default_factory=lambda: MappingProxyType(dict(_DEFAULT_UNSCANNABLE)))

    def unscannable_action(self, reason: str) -> Action:
        return self.unscannable.get(reason, Action.TAG)

    def action_for(self, category: str, confidence: Confidence) -> Action:
        return self.actions.get((category, confidence), Action.ACCEPT)

    def allows(self, sender: str) -> bool:
        sender = sender.strip("<>").lower()
        domain = sender.rpartition("@")[2]
        return sender in self.allow_senders or ("@" + domain) in self.allow_senders


def _build_actions(r: Reader) -> dict[tuple[str, Confidence], Action]:
    """`category = { high = "reject", medium = "tag", low = "log" }` for each category."""
    table: dict[tuple[str, Confidence], Action] = {}
    for category in r.keys():
        if category not in CATEGORIES:
            r.problem(category, f"unknown category; known: {', '.join(CATEGORIES)}")
            r.table(category)  # mark as used: the problem is already reported
            continue
        levels = r.table(category)
        for confidence in Confidence:
            if confidence.label in levels:
                word = levels.string(confidence.label, "log", ACTION_WORDS)
                table[(category, confidence)] = ACTION_WORDS[word]
        levels.done()
    r.done()
    return table


def read_settings(r: Reader) -> DlpSettings:
    """[filters.dlp]."""
    timeout, on_error = read_common(r, 20.0, "tempfail")
    actions = dict(_default_dlp_actions())
    actions.update(_build_actions(r.table("actions")))
    modulus = r.string("modulus_table", "")
    if modulus and not os.access(modulus, os.R_OK):
        r.problem("modulus_table", f"cannot read {modulus}")
    senders = r.strings("allow_senders", (),
                        check=lambda s: None if "@" in s else "must be an address or @domain")
    settings = DlpSettings(
        timeout=timeout,
        on_error=on_error,
        scan_inbound=r.boolean("scan_inbound", False),
        allow_senders=frozenset(s.lower() for s in senders),
        actions=MappingProxyType(actions),
        modulus_table=Path(modulus) if modulus else None,
        max_message_bytes=r.integer("max_message_mb", 25, 1, 1024) * 1024 * 1024,
        large_scans=r.integer("large_scans", 1, 1, 64),
        max_scan_seconds=r.number("max_scan_seconds", 5.0, 0.1, 280),
        unscannable=MappingProxyType(_build_unscannable(r.table("unscannable"))),
    )
    r.done()
    return settings


def _build_unscannable(r: Reader) -> dict[str, Action]:
    """`reason = "tag"` for each reason a scan can give up for."""
    table = dict(_DEFAULT_UNSCANNABLE)
    for reason in r.keys():
        if reason not in UNSCANNABLE_REASONS:
            r.problem(reason, f"unknown reason; known: {', '.join(UNSCANNABLE_REASONS)}")
            r.string(reason, "tag")  # mark as used: the problem is already reported
            continue
        table[reason] = ACTION_WORDS[r.string(reason, "tag", ACTION_WORDS)]
    r.done()
    return table




def customer_action(site: Site, settings: DlpSettings, customer_domain: str, category: str,
                    confidence: Confidence) -> Action:
    """The customer's own dlp_actions entry if it has one, else [filters.dlp.actions]."""
    customer = site.customer(customer_domain)
    own = customer.table("dlp_actions") if customer is not None else None
    if isinstance(own, Mapping) and (category, confidence) in own:
        found: Action = own[(category, confidence)]
        return found
    return settings.action_for(category, confidence)


def _read_customer_actions(r: Reader) -> Mapping[tuple[str, Confidence], Action]:
    return MappingProxyType(_build_actions(r))


# --- the filter ------------------------------------------------------------------------

# What a reject says when the message could not be checked, per unscannable reason.
REASON_WORDS = {
    "too_large": "it is too large to be checked",
    "too_deep": "its attachments are nested too deeply to be checked",
    "encrypted": "it has encrypted or password-protected attachments that cannot be checked",
    "unsupported": "it has attachments in a format that cannot be checked",
    "time": "it took too long to check",
    "budget": "it holds too many numbers shaped like card or account details to check",
    "malformed": "it has damaged attachments that cannot be checked",
}


def reject_reply(categories: list[str]) -> Reply:
    return Reply("550", "5.7.1",
                 f"This message appears to contain {describe(categories)}. Email can travel "
                 "unencrypted, so it was not sent. Share such details by phone or a secure "
                 "link instead, or ask your mail administrator")


def unscannable_reply(reasons: list[str]) -> Reply:
    words = and_list([REASON_WORDS.get(r, "part of it cannot be checked") for r in reasons])
    return Reply("550", "5.7.1",
                 f"This message was not sent because {words} for payment card, bank or "
                 "password details. Send it without that attachment, or ask your mail "
                 "administrator")


class DlpFilter:
    """The scan is CPU work: the adapter runs it in the SMTP connection's thread (`prepare`);
    `check` runs it in a worker thread only when nothing was prepared (e.g. offline scan)."""

    name = "dlp"

    def __init__(self, settings: DlpSettings | None = None, services: Services | None = None) -> None:
        self.settings = settings = settings if settings is not None else default_settings(read_settings)
        # Scanning holds a message several times over in memory, so scans of large messages
        # take turns: peak memory stays that of `large_scans` scans however many arrive.
        self._large = threading.BoundedSemaphore(settings.large_scans)
        self.limits = Limits(max_message_bytes=settings.max_message_bytes,
                             max_scan_seconds=settings.max_scan_seconds)
        self.table: ModulusTable | None = None
        if settings.modulus_table is not None:
            try:
                self.table = ModulusTable.load(settings.modulus_table)
            except OSError as exc:  # checked at policy load; the file may have gone since
                log.error("dlp: cannot read the modulus table %s (%s); UK accounts are checked without it",
                          settings.modulus_table, exc.strerror)

    def prepare(self, message: Message, deadline: float | None) -> Report | None:
        """The scan, in the connection's thread, stopping by `deadline`; its report comes
        back to decide/check as ctx.prepared."""
        if _skip_reason(message, self.settings) is None:
            return self._scan(message, deadline)
        return None

    def decide(self, message: Message, ctx: FilterContext) -> Result | None:
        """At once when prepare left a report (or nothing is to be scanned); else None."""
        if skip := _skip_reason(message, self.settings):
            return Result(self.name, facts=(("dlp", skip),))
        report = ctx.prepared_as(Report)
        return None if report is None else self._judge(report, message, ctx)

    async def check(self, message: Message, ctx: FilterContext) -> Result:
        if (result := self.decide(message, ctx)) is not None:
            return result
        return self._judge(await asyncio.to_thread(self._scan, message, message.deadline), message, ctx)

    def _judge(self, report: Report, message: Message, ctx: FilterContext) -> Result:
        customer = message.sender_domain if message.outbound else _first_hosted(message, ctx)
        if report.unscannable_reasons:
            log.info("dlp: not fully scanned (%s)",
                     ",".join(report.unscannable_reasons))
        return act_on_findings(self.name, report.findings, report.unscannable, customer, ctx,
                      reasons=report.unscannable_reasons, settings=self.settings)

    def _scan(self, message: Message, deadline: float | None) -> Report:
        if message.body_size < LARGE_MESSAGE:
            return self._scan_now(message, deadline)
        with self._large:
            return self._scan_now(message, deadline)

    def _scan_now(self, message: Message, deadline: float | None) -> Report:
        raw = message.raw()
        try:
            return scan(raw, self.limits, modulus_table=self.table, deadline=deadline)
        finally:
            raw.close()


def _skip_reason(message: Message, settings: DlpSettings) -> str | None:
    if message.inbound and not settings.scan_inbound:
        return "skipped-inbound"
    if settings.allows(message.mail_from):
        return "allowed-sender"
    return None


def _first_hosted(message: Message, ctx: FilterContext) -> str:
    return next((r.domain for r in message.recipients if ctx.site.is_hosted(r.domain)), "")


def act_on_findings(name: str, findings: tuple[Finding, ...], unscannable: int, customer: str,
           ctx: FilterContext, reasons: tuple[str, ...] = (), settings: DlpSettings | None = None) -> Result:
    """The action for what was found and, per reason, for what could not be scanned
    ([filters.dlp.unscannable]); the strictest wins."""
    site = ctx.site
    if settings is None:
        own = site.settings("dlp")
        assert isinstance(own, DlpSettings)
        settings = own
    action = Action.ACCEPT
    acted: list[str] = []
    for f in findings:
        a = customer_action(site, settings, customer, f.category, f.confidence)
        action = max(action, a)
        if a > Action.ACCEPT:
            acted.append(f.category)
    found_action = action
    rejected_for: list[str] = []
    for reason in reasons:
        a = settings.unscannable_action(reason)
        action = max(action, a)
        if a is Action.REJECT:
            rejected_for.append(reason)
    facts: tuple[tuple[str, str], ...] = (("dlp", "scanned"),)
    if unscannable:
        facts += (("unscannable", str(unscannable)),)
    if reasons:
        facts += (("unscannable_reasons", ",".join(reasons)),)
    if rules := sorted({rule for f in findings for rule in f.rules}):
        facts += (("dlp_rules", ",".join(rules)),)  # the symbols that fired: stored, never a value
    prefix = site.header_prefix
    headers: tuple[tuple[str, str], ...] = ()
    if action >= Action.TAG:
        parts = [", ".join(f"{f.category}={f.count} ({f.confidence.label})" for f in findings)]
        if reasons:
            parts.append("unscannable=" + ",".join(reasons))
        headers = ((f"{prefix}-DLP", "; ".join(p for p in parts if p)),)
    reply = None
    if action is Action.REJECT:
        reply = unscannable_reply(rejected_for) if found_action < Action.REJECT \
            else reject_reply(sorted(set(acted)))
    return Result(name, action=action, findings=findings, headers=headers, reply=reply, facts=facts)


def _explain(raw: bytes, settings: FilterSettings) -> Explanation:
    """`scan --explain`: per finding its rule symbol, confidence, part and line, value masked;
    and what could not be read, with how often."""
    assert isinstance(settings, DlpSettings)
    rows, reasons = explain_with_reasons(raw, Limits(max_message_bytes=settings.max_message_bytes),
                                         settings.modulus_table)
    notes = ["unscannable: " + ", ".join(f"{r}={n}" for r, n in reasons)] if reasons else []
    return Explanation([f"  {e.rule:30} {e.confidence.label:6} {e.where} (part {e.part}) line {e.line}: {e.shown}"
                        for e in rows], notes)


def _build(settings: FilterSettings, services: Services) -> DlpFilter:
    assert isinstance(settings, DlpSettings)
    return DlpFilter(settings, services)


UNSCANNABLE_COUNTER = Counter("privacy_milter_unscannable_total",
                              "Messages the content checks could not read whole, by reason", ("reason",))
REASON_SET = frozenset(UNSCANNABLE_REASONS)

SYMBOLS = (
    Symbol("dlp", frozenset({"scanned", "skipped-inbound", "allowed-sender"}), "whether the message was scanned"),
    Symbol("unscannable", help="how many parts or searches could not be completed (a number)"),
    Symbol("unscannable_reasons", REASON_SET, "why, comma-separated", counter=UNSCANNABLE_COUNTER,
           labels=lambda value, failed: ((r if r in REASON_SET else "other",) for r in value.split(",")),
           log_key="unscannable"),
    Symbol("dlp_rules", help="the symbols of the detection rules that fired, comma-separated"),
)

SPEC = FilterSpec(
    name="dlp", read=read_settings, build=_build, offline=True, default=True,
    customer_tables=MappingProxyType({"dlp_actions": _read_customer_actions}),
    start=warm_up, stop=stop_workers, symbols=SYMBOLS, categories=CATEGORIES, explain=_explain)

__all__ = ["CATEGORIES", "SPEC", "DlpFilter", "DlpSettings", "UNSCANNABLE_REASONS", "act_on_findings", "customer_action",
           "read_settings", "reject_reply", "unscannable_reply"]
