"""The hold queue joined with the store: what is held, why, until when.

`postqueue -j` is the source of truth for what is held; the record (this host's, by queue
id) says why. A held message without a record (held by a Postfix rule, or its record already
purged) is still listed, with why = unknown. Nothing here reads the message itself.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from ..model import domain_of
from ..store.backend import StoredRecord
from .postfix import QueueEntry

# Facts that say why a message was held (the filter that decided, and how); the rest of the
# record's facts are in `show`.
WHY_FACTS = ("dlp_rules", "flagged_action", "flagged_route", "tls_decision", "unscannable_reasons",
             "virus", "spam")


def iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


@dataclass(frozen=True)
class Held:
    entry: QueueEntry
    record: StoredRecord | None   # this host's record of the queue id, if any
    now: float
    keep_days: int

    @property
    def queue_id(self) -> str:
        return self.entry.queue_id

    @property
    def age_days(self) -> float:
        return max(0.0, (self.now - self.entry.arrival_time) / 86400)

    @property
    def expires(self) -> float:
        return self.entry.arrival_time + self.keep_days * 86400

    @property
    def expired(self) -> bool:
        return self.now >= self.expires

    @property
    def categories(self) -> list[str]:
        return sorted({str(f[0]) for f in self.record.findings}) if self.record else []

    @property
    def flagged(self) -> bool:
        """Carries what DLP found (it must never leave in clear text)."""
        return bool(self.categories) or (self.record is not None and "flagged_action" in self.record.facts)

    def why(self) -> dict[str, Any]:
        if self.record is None:
            return {"action": "unknown", "note": "no privacy-milter record for this queue id on this host"}
        facts = {k: v for k, v in self.record.facts.items() if k in WHY_FACTS}
        return {"action": self.record.action, "categories": self.categories, **facts}

    def summary(self) -> dict[str, Any]:
        """What `quarantine list --json` prints per message: domains only, no content."""
        return {"queue_id": self.queue_id, "held_since": iso(self.entry.arrival_time),
                "age_days": round(self.age_days, 1), "expires": iso(self.expires),
                "sender_domain": domain_of(self.entry.sender) if self.entry.sender else "",
                "recipient_domains": sorted({domain_of(r) for r in self.entry.recipients}),
                "size": self.entry.size, "why": self.why()}

    def involves_domain(self, domain: str) -> bool:
        d = domain.lower()
        s = self.summary()
        return s["sender_domain"] == d or d in s["recipient_domains"]


def join(entries: list[QueueEntry], records: dict[str, list[StoredRecord]], host: str, now: float,
         keep_days: int) -> list[Held]:
    """Each held entry with this host's newest record of its queue id, oldest first."""
    out = [Held(e, mine(records.get(e.queue_id, []), host), now, keep_days) for e in entries]
    return sorted(out, key=lambda h: (h.entry.arrival_time, h.queue_id))


def mine(records: list[StoredRecord], host: str) -> StoredRecord | None:
    """The record this host wrote (a record without a host is from before hosts existed)."""
    return next((r for r in records if r.host in (host, "")), None)


def text_line(h: Held) -> str:
    s = h.summary()
    why = s["why"]
    reason = ",".join(why.get("categories") or []) or "-"
    extra = "".join(f" {k}={why[k]}" for k in WHY_FACTS if k in why)
    return (f"{s['queue_id']:<12} {s['held_since']}  age {s['age_days']:>5.1f}d  expires {s['expires']}  "
            f"{s['sender_domain'] or '<>'} -> {','.join(s['recipient_domains'])}  {s['size']} bytes  "
            f"action={why['action']} categories={reason}{extra}")
