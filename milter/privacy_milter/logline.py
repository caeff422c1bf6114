"""The one log line per message, in the shape of Postfix's own lines (queue id first).

Only metadata: domains (addresses are in Postfix's own log under the same queue id),
sizes, TLS facts, the action and finding categories with counts. Never a found value.
"""

from __future__ import annotations

from .model import Message, Verdict

MAX_LOGGED_DOMAINS = 20  # then "+K more": 20,000 recipients made one 289 KB line


def domain_list(domains: set[str]) -> str:
    ordered = sorted(domains)
    shown = ",".join(ordered[:MAX_LOGGED_DOMAINS]) or "-"
    if len(ordered) > MAX_LOGGED_DOMAINS:
        shown += f",+{len(ordered) - MAX_LOGGED_DOMAINS} more"
    return shown


def message_line(message: Message, verdict: Verdict) -> str:
    direction = message.direction
    rcpt_domains = domain_list({r.domain for r in message.recipients})
    findings = ",".join(f"{f.category}:{f.count}:{f.confidence.label}" for f in verdict.findings)
    failed = ",".join(r.filter for r in verdict.results if r.error)
    parts = [
        f"{message.queue_label}:",
        f"direction={direction.direction.value if direction else 'unknown'}",
        f"reason={direction.reason if direction else 'unknown'}",
        f"client={message.session.client_addr or 'local'}",
        f"from_domain={message.sender_domain or '<>'}",
        f"rcpt_domains={rcpt_domains}",
        f"nrcpt={len(message.recipients)}",
        f"size={message.body_size}",
        f"tls={message.session.tls.version or 'none'}",
    ]
    if message.session.tls.cipher:
        parts.append(f"cipher={message.session.tls.cipher}")
    parts.append(f"action={verdict.action.label}")
    parts.append(f"findings={findings or 'none'}")
    if rules := sorted({rule for f in verdict.findings for rule in f.rules}):
        parts.append(f"rules={','.join(rules)}")
    if reasons := next((v for r in verdict.results for k, v in r.facts if k == "unscannable_reasons"), ""):
        parts.append(f"unscannable={reasons}")
    if failed:
        parts.append(f"failed={failed}")
    return " ".join(parts)
