"""The summary's quarantine section (issue 27): held, released, deleted and expired this
week, notices sent, and how much is held now with the oldest held message's age.

The week's figures come from the store (messages with action quarantine; the
quarantine_events table); what is held now comes from Postfix's hold queue (`postqueue -j`,
readable by the daemon's user), asked by the caller: `held_now(policy)`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..policy import Policy


@dataclass(frozen=True, slots=True)
class QuarantineWeek:
    held: int = 0                    # messages held this week (action quarantine)
    released: int = 0
    deleted: int = 0
    expired: int = 0
    notices: int = 0                 # sender notices sent
    held_now: int | None = None      # None: the hold queue could not be read
    oldest_days: float | None = None  # the oldest held message's age now
    keep_days: int = 0


async def held_now(policy: "Policy") -> list[float] | None:
    """The arrival times of the messages Postfix holds now, or None if it cannot be asked."""
    from ..quarantine.postfix import PostfixQueue, QueueError

    try:
        entries = await asyncio.to_thread(PostfixQueue(policy.quarantine.postfix_config).held)
    except QueueError:
        return None
    return [e.arrival_time for e in entries]


async def quarantine_week(rq: Any, held_since: Sequence[float] | None, now: float,
                          keep_days: int) -> QuarantineWeek:
    """`rq`: the week's queries.ReportQueries (not imported: queries imports this module)."""
    ((held,),) = await rq.messages("COUNT(*)", " AND m.action = 'quarantine'")
    rows = await rq.fetch("SELECT event, COUNT(*) FROM quarantine_events WHERE time >= ? AND time < ? "
                          "GROUP BY event", (rq.w.start, rq.w.end))
    by: dict[str, int] = {str(e): int(n or 0) for e, n in rows}
    oldest = (now - min(held_since)) / 86400 if held_since else None
    return QuarantineWeek(int(held or 0), by.get("release", 0), by.get("delete", 0), by.get("expire", 0),
                          by.get("notice", 0), None if held_since is None else len(held_since),
                          oldest, keep_days)


INTRO = "Mail held in Postfix's hold queue (privacy-milter quarantine list)."


def rows(q: QuarantineWeek) -> tuple[tuple[str, str], ...]:
    """The section's lines (sections.py lays them out, as every other section's)."""
    now = "unknown (Postfix's hold queue could not be read)" if q.held_now is None else f"{q.held_now:,}"
    oldest = "-" if q.oldest_days is None else f"{q.oldest_days:.1f} days"
    return (("Held this week", f"{q.held:,}"), ("Released", f"{q.released:,}"), ("Deleted", f"{q.deleted:,}"),
            ("Expired (past keep_days)", f"{q.expired:,}"), ("Sender notices sent", f"{q.notices:,}"),
            ("Held now", now), ("Oldest held message", oldest))


def notes(q: QuarantineWeek) -> tuple[str, ...]:
    if q.oldest_days is not None and q.keep_days and q.oldest_days > q.keep_days + 1:
        return (f"Held mail is older than keep_days ({q.keep_days}) + 1 day: is the "
                "privacy-milter-quarantine-expire timer running?",)
    return ()
