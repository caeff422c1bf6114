"""The one log line per message, in the shape of Postfix's own lines (queue id first).

Only metadata: domains (addresses are in Postfix's own log under the same queue id),
sizes, TLS facts, the action and finding categories with counts. Never a found value.

`body_size=` is the body in bytes as the milter received it (the header block not
counted), named so because Postfix's own `size=` (the qmgr line) is the whole queued
message: the two are different quantities and must not look like one.
"""

from __future__ import annotations

from .model import Message, Verdict
from .registry import LOG_KEYS as LOGGED  # (filter, fact) -> key: the facts declared with a log_key

MAX_LOGGED_DOMAINS = 20  # then "+K more": 20,000 recipients made one 289 KB line


def domain_list(domains: set[str]) -> str:
    ordered = sorted(domains)
    shown = ",".join(ordered[:MAX_LOGGED_DOMAINS]) or "-"
    if len(ordered) > MAX_LOGGED_DOMAINS:
        shown += f",+{len(ordered) - MAX_LOGGED_DOMAINS} more"
    return shown


def message_line(message: Message, verdict: Verdict) -> str:
    # One f-string for the fields every line has, each value read once (a findings tuple is
    # built per read of verdict.findings).
    session = message.session
    tls = session.tls
    decision = message.decision  # None only for a message that never reached the runtime
    findings = verdict.findings
    recipients = message.recipients
    line = (f"{message.queue_label}: "
            f"direction={decision.direction.value if decision else 'unknown'} "
            f"reason={decision.reason if decision else 'unknown'} "
            f"client={session.client_addr or 'local'} "
            f"from_domain={message.sender_domain or '<>'} "
            f"rcpt_domains={domain_list({r.domain for r in recipients})} "
            f"nrcpt={len(recipients)} body_size={message.body_size} tls={tls.version or 'none'}")
    if tls.cipher:
        line += f" cipher={tls.cipher}"
    line += f" action={verdict.action.label} findings="
    if not findings:
        line += "none"
    else:
        line += ",".join(f"{f.category}:{f.count}:{f.confidence.label}" for f in findings)
        if rules := sorted({rule for f in findings for rule in f.rules}):
            line += f" rules={','.join(rules)}"
    shown: set[str] = set()
    for r in verdict.results:
        for k, v in r.facts:
            if (key := LOGGED.get((r.filter, k))) and key not in shown and v:
                shown.add(key)
                line += f" {key}={v}"
    if failed := ",".join(r.filter for r in verdict.results if r.error):
        line += f" failed={failed}"
    return line
