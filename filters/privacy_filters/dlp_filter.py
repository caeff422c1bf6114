"""The DLP check in the pipeline: scan the message (privacy_filters.dlp) and apply policy.

The scan is CPU work, so it runs in a worker thread: the event loop keeps serving other
messages meanwhile. Only categories, confidences and counts leave this module.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from privacy_milter.model import Action, Direction, Finding, Message, Reply, Result
from privacy_milter.pipeline import Context
from privacy_milter.policy import Policy

from .dlp import Limits, ModulusTable, Report, scan

log = logging.getLogger("privacy_milter.dlp")

LARGE_MESSAGE = 4 * 1024 * 1024  # bodies from this size on take turns to be scanned

CATEGORY_WORDS = {
    "payment_card": "payment card numbers",
    "iban": "bank account details (IBAN)",
    "uk_bank_account": "bank account details (sort code and account number)",
    "password": "passwords or access keys",
}


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


def describe(categories: list[str]) -> str:
    return _and([CATEGORY_WORDS.get(c, c.replace("_", " ")) for c in categories])


def _and(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def reject_reply(categories: list[str]) -> Reply:
    return Reply("550", "5.7.1",
                 f"This message appears to contain {describe(categories)}. Email can travel "
                 "unencrypted, so it was not sent. Share such details by phone or a secure "
                 "link instead, or ask your mail administrator")


def unscannable_reply(reasons: list[str]) -> Reply:
    words = _and([REASON_WORDS.get(r, "part of it cannot be checked") for r in reasons])
    return Reply("550", "5.7.1",
                 f"This message was not sent because {words} for payment card, bank or "
                 "password details. Send it without that attachment, or ask your mail "
                 "administrator")


class DlpFilter:
    """The scan is CPU work: the adapter runs it in the SMTP connection's thread (`prepare`);
    `check` runs it in a worker thread only when nothing was prepared (e.g. offline scan)."""

    name = "dlp"

    def __init__(self, policy: Policy | None = None) -> None:
        settings = policy.dlp if policy is not None else None
        # Scanning holds a message several times over in memory, so scans of large messages
        # take turns: peak memory stays that of `large_scans` scans however many arrive.
        self._large = threading.BoundedSemaphore(settings.large_scans if settings else 1)
        self.limits = Limits(max_message_bytes=settings.max_message_bytes,
                             max_scan_seconds=settings.max_scan_seconds) if settings else Limits()
        self.table: ModulusTable | None = None
        if settings is not None and settings.modulus_table is not None:
            try:
                self.table = ModulusTable.load(settings.modulus_table)
            except OSError as exc:  # checked at policy load; the file may have gone since
                log.error("dlp: cannot read the modulus table %s (%s); UK accounts are checked without it",
                          settings.modulus_table, exc.strerror)

    def prepare(self, message: Message, policy: Policy) -> None:
        if _skip_reason(message, policy) is None:
            message.prepared[self.name] = self._scan(message)

    async def check(self, message: Message, ctx: Context) -> Result:
        if skip := _skip_reason(message, ctx.policy):
            return Result(self.name, facts=(("dlp", skip),))
        report = message.prepared.pop(self.name, None)
        if report is None:
            report = await asyncio.to_thread(self._scan, message)
        outbound = _outbound(message)
        customer = message.sender_domain if outbound else _first_hosted(message, ctx)
        if report.unscannable_reasons:
            log.info("dlp: %s not fully scanned (%s)", message.queue_id or "-",
                     ",".join(report.unscannable_reasons))
        return decide(self.name, report.findings, report.unscannable, customer, ctx,
                      reasons=report.unscannable_reasons)

    def _scan(self, message: Message) -> Report:
        if message.body_size < LARGE_MESSAGE:
            return self._scan_now(message)
        with self._large:
            return self._scan_now(message)

    def _scan_now(self, message: Message) -> Report:
        raw = message.raw()
        try:
            return scan(raw, self.limits, modulus_table=self.table, deadline=message.deadline)
        finally:
            raw.close()


def _outbound(message: Message) -> bool:
    return message.direction is None or message.direction.direction is Direction.OUTBOUND


def _skip_reason(message: Message, policy: Policy) -> str | None:
    if not _outbound(message) and not policy.dlp.scan_inbound:
        return "skipped-inbound"
    if policy.dlp.allows(message.mail_from):
        return "allowed-sender"
    return None


def _first_hosted(message: Message, ctx: Context) -> str:
    return next((r.domain for r in message.recipients if ctx.policy.network.is_hosted(r.domain)), "")


def decide(name: str, findings: tuple[Finding, ...], unscannable: int, customer: str,
           ctx: Context, reasons: tuple[str, ...] = ()) -> Result:
    """The action for what was found and, per reason, for what could not be scanned
    ([filters.dlp.unscannable]); the strictest wins."""
    policy = ctx.policy
    action = Action.ACCEPT
    acted: list[str] = []
    for f in findings:
        a = policy.dlp_action(customer, f.category, f.confidence)
        action = max(action, a)
        if a > Action.ACCEPT:
            acted.append(f.category)
    found_action = action
    rejected_for: list[str] = []
    for reason in reasons:
        a = policy.dlp.unscannable_action(reason)
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
    prefix = policy.milter.header_prefix
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


__all__ = ["DlpFilter", "decide", "reject_reply", "unscannable_reply"]
