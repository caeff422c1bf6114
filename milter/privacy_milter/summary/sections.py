"""A WeeklyReport laid out as titled sections of small tables, shared by the text and HTML
parts so that both show exactly the same figures, formatted the same way.

Every label from outside (domains, hosts, reasons, categories) passes through `label()`:
an address that slipped into a domain position shows only its domain, control characters
go, and long names are cut. HTML escaping is left to Jinja2's autoescape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from .model import Count, Health, Totals, WeeklyReport, share
from . import quarantine

MAX_LABEL = 60
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def label(raw: str) -> str:
    text = _CONTROL.sub("", str(raw)).strip()
    if "@" in text:
        text = text.rsplit("@", 1)[1].strip() or "(withheld)"
    if len(text) > MAX_LABEL:
        text = text[:MAX_LABEL - 1] + "\u2026"
    return text or "(none)"


def num(n: int) -> str:
    return f"{n:,}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def change(now: int, before: int) -> str:
    if before == 0:
        return "new" if now else "same"
    delta = 100.0 * (now - before) / before
    return "same" if abs(delta) < 0.05 else f"{delta:+.1f}%"


def when(dt: datetime | None) -> str:
    return "-" if dt is None else dt.strftime("%a %d %b %Y %H:%M")


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]          # right-align this column
    caption: str = ""


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    intro: str
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)


def _counts(caption: str, head: str, counts: tuple[Count, ...], total: int | None = None) -> Table:
    whole = sum(c.n for c in counts) if total is None else total
    return Table((head, "count", "share"),
                 tuple((label(c.key), num(c.n), pct(share(c.n, whole))) for c in counts),
                 (False, True, True), caption)


def points(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    return "same" if abs(now - before) < 0.05 else f"{now - before:+.1f} pt"


def headline_rows(t: Totals, p: Totals | None) -> tuple[tuple[str, ...], ...]:
    pin, pout = t.in_share, t.out_share
    if p is None:
        return (("Messages in", num(t.messages_in), ""), ("Messages out", num(t.messages_out), ""),
                ("Encrypted in", pct(pin), ""), ("Encrypted out", pct(pout), ""),
                ("Sensitive-data findings stopped", num(t.findings_stopped), ""))
    return (
        ("Messages in", num(t.messages_in), change(t.messages_in, p.messages_in)),
        ("Messages out", num(t.messages_out), change(t.messages_out, p.messages_out)),
        ("Encrypted in", pct(pin), points(pin, p.in_share)),
        ("Encrypted out", pct(pout), points(pout, p.out_share)),
        ("Sensitive-data findings stopped", num(t.findings_stopped),
         change(t.findings_stopped, p.findings_stopped)),
    )


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{num(n)} {one if n == 1 else (many or one + 's')}"


def attention(r: WeeklyReport) -> Section | None:
    """Flagged messages that left in clear text, or whose way out is unknown: first in the
    summary when there are any."""
    f = r.flagged_clear
    if not f.messages and not f.unverified:
        return None
    rows = tuple((label(h.domain), f"the relay {label(h.relay)}" if h.relay else "its mail server",
                  num(h.messages)) for h in f.hops)
    tables = (Table(("destination domain", "sent in clear to", "messages"), rows, (False, False, True)),)
    notes: tuple[str, ...] = ("Check that Postfix routes X-Privacy-Encrypt mail to the encrypt-only transport "
             "(milter_header_checks, docs/DEPLOY.md) and, for a relay, that TLS to it is required.",)
    if f.unverified:
        notes += (f"{plural(f.unverified, 'flagged message')} passed on for delivery never showed in "
                  "Postfix's delivery log, so whether they left encrypted is not known: check that "
                  "[summary] maillog points at Postfix's log and that milter_end_of_data_macros "
                  "has `i` (the queue id).",)
    if not f.messages:
        return Section("attention", "Check: flagged mail not seen in the delivery log", "", (), notes[1:])
    return Section(
        "attention", "Action needed: flagged mail sent in clear text",
        f"{plural(f.messages, 'flagged message')} (sensitive data found and acted on) left without "
        f"TLS this week ({plural(f.deliveries, 'delivery', 'deliveries')}).", tables, notes)


def sections(r: WeeklyReport) -> list[Section]:
    first = attention(r) if r.scope is None else None
    out = [first] if first is not None else []
    out += [Section("headline", "Headline",
                   "No mail this week." if r.is_empty else
                   f"{num(r.totals.messages)} messages, "
                   f"{pct(r.totals.encrypted_share)} encrypted.",
                   (Table(("", "this week", "vs week before"), headline_rows(r.totals, r.previous),
                          (False, True, True)),))]
    if not r.is_empty and r.scope is None:
        t = r.tls
        out.append(Section(
            "tls", "Encryption (TLS)",
            "How mail arrived and left. The clear-text list is the one to act on.",
            (_counts("Inbound by TLS version", "version", t.inbound_by_version),
             _counts("Outbound deliveries by TLS level", "level", t.outbound_by_level),
             _counts("Outbound deliveries by TLS policy", "policy", t.outbound_by_policy),
             Table(("domain", "deliveries"), tuple((label(c.key), num(c.n)) for c in t.clear_domains),
                   (False, True), "Domains that still received mail in clear text"),
             *((Table(("relay", "deliveries"), tuple((label(c.key), num(c.n)) for c in t.clear_relays),
                      (False, True), "Sent to the relayhost in clear text (every domain it carried)"),)
               if t.clear_relays else ()),
             _counts("TLS failures by reason (TLS-RPT)", "reason", t.failures_by_reason)),
            (f"Flagged messages refused because the recipient could not do TLS: "
             f"{num(t.refused_for_tls)}; held: {num(t.held_for_tls)}.",
             *((f"Inbound mail relayed onward (to mailbox servers, not counted as outbound): "
                f"{plural(t.relayed_inbound, 'delivery', 'deliveries')}, "
                f"{num(t.relayed_inbound_clear)} in clear text.",) if t.relayed_inbound else ()))))
    if not r.is_empty:
        f = r.findings
        out.append(Section(
            "findings", "Sensitive data", "What the content checks stopped or marked (never the content).",
            (Table(("category", "action", "messages"),
                   tuple((label(c.category), label(c.action), num(c.n)) for c in f.by_category_action),
                   (False, False, True), "Findings by category and action"),
             Table(("sending domain", "findings"), tuple((label(c.key), num(c.n)) for c in f.top_senders),
                   (False, True), "Top sending customer domains"))))
        s = r.scanners
        out.append(Section(
            "scanners", "Spam and virus", "Per opted-in customer, what the scanners decided.",
            (Table(("customer", "scanner", "action", "messages"),
                   tuple((label(x.domain), label(x.scanner), label(x.action), num(x.n))
                         for x in s.by_customer), (False, False, False, True), "Results by action"),),
            () if r.scope else (f"Scanner errors: {num(s.errors)}; time-outs: {num(s.timeouts)}.",)))
    if r.scope is None:
        h = r.health
        out.append(Section(
            "health", "Health", "Anything here above zero deserves a look.",
            (Table(("event", "count"), (
                ("Temporary failures (tempfail)", num(h.tempfails)),
                ("Filter errors", num(h.filter_errors)),
                ("Policy reloads", num(h.reloads_ok)),
                ("Policy edits refused", num(h.reloads_refused)),
                ("Restarts", num(h.restarts)),
                ("Store write failures", num(h.store_write_failures)),
                ("Log lines the reader could not parse", num(h.unparsed_log_lines)),
                ("Flagged messages whose TLS decision failed", num(h.tls_decision_failed))),
                (False, True)),),
            decision_note(h) + ((f"Not recorded by the store yet (shown as 0): {', '.join(r.missing)}.",)
                                if r.missing else ())))
    ret = r.retention
    out.append(Section(
        "retention", "Retention", "Old records are deleted on schedule.",
        (Table(("", ""), (("Retention window", f"{num(ret.window_days)} days"),
                          ("Oldest record held", when(ret.oldest_record)),
                          ("Records purged this week", num(ret.purged_this_week))), (False, True)),)))
    if r.scope is None:  # issue 27: summary/quarantine.py
        q = r.quarantine
        out.append(Section("quarantine", "Quarantine", quarantine.INTRO,
                           (Table(("", ""), quarantine.rows(q), (False, True)),), quarantine.notes(q)))
    if r.customers and not r.is_empty:
        out.append(Section(
            "customers", "Per customer" if r.scope is None else "Your domain", "",
            (Table(("domain", "in", "out", "enc in", "enc out", "finds", "spam", "virus"),
                   tuple((label(c.domain), num(c.messages_in), num(c.messages_out),
                          pct(share(c.encrypted_in, c.messages_in)),
                          pct(share(c.encrypted_out, c.deliveries_out)),
                          num(c.findings), num(c.spam), num(c.virus)) for c in r.customers),
                   (False,) + (True,) * 7),)))
    if r.hosts and r.scope is None:
        out.append(Section(
            "hosts", "Hosts", "",
            (Table(("host", "messages", "tempfails", "deliveries out"),
                   tuple((label(x.host), num(x.messages), num(x.tempfails), num(x.deliveries))
                         for x in r.hosts), (False, True, True, True)),)))
    return out


DECIDED = {"encrypt": "sent encrypt-only", "reject": "refused", "quarantine": "held",
           "tempfail": "deferred (tempfail)"}


def decision_note(h: Health) -> tuple[str, ...]:
    """Why the TLS decision count matters and what became of those messages."""
    if not h.tls_decision_failed:
        return ()
    what = ", ".join(f"{DECIDED.get(c.key, label(c.key))} {num(c.n)}" for c in h.tls_decision_failed_by_action)
    return (f"{plural(h.tls_decision_failed, 'flagged message')}: the TLS decision failed (resolver "
            f"down? run privacy-milter policy check), so the safe action applied: {what}.",)
