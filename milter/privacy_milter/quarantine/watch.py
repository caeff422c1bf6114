"""The daemon's part of the quarantine: the sender notices, an hourly look at the hold
queue (held mail older than keep_days + 1 day means the root expiry timer is not running:
said in the log), and the optional daily digest to [quarantine] admin.

The daemon does not run as root, so it never deletes: `postqueue -j` is readable by any
user, `postsuper` is not (deploy/systemd/privacy-milter-quarantine-expire.timer does that).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import time as dtime
from email.message import EmailMessage
from typing import Any

from ..policy import Policy
from ..scheduler import Daily, Every, Job
from . import events
from .held import Held, join, text_line
from .notices import Notice, Notifier
from .postfix import PostfixQueue, QueueError

log = logging.getLogger("privacy_milter.quarantine")
CHECK_EVERY = 3600.0
NOTICE_FLUSH_EVERY = 300.0
DIGEST_AT = dtime(8, 0)
GRACE_DAYS = 1


def overdue(held: list[Held], keep_days: int, now: float) -> list[Held]:
    return [h for h in held if now - h.entry.arrival_time > (keep_days + GRACE_DAYS) * 86400]


class HoldQueueWatch:
    def __init__(self, policy: Policy, store: Any, queue: PostfixQueue | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.policy = policy
        self.store = store
        self.queue = queue or PostfixQueue(policy.quarantine.postfix_config)
        self.clock = clock

    async def held(self) -> list[Held]:
        entries = await asyncio.to_thread(self.queue.held)
        records: dict[str, list[Any]] = {}
        if getattr(self.store.backend, "is_open", False):  # the reasons are a bonus; the ages are the point
            records = await events.records_for(self.store.backend, [e.queue_id for e in entries])
        return join(entries, records, self.policy.store.host_name, self.clock(), self.policy.quarantine.keep_days)

    async def check(self) -> int:
        """Warn about held mail past keep_days + 1 day; the number of such messages."""
        keep = self.policy.quarantine.keep_days
        try:
            late = overdue(await self.held(), keep, self.clock())
        except QueueError as exc:
            log.warning("quarantine: cannot read Postfix's hold queue: %s", exc)
            return 0
        if late:
            oldest = max(h.age_days for h in late)
            log.warning("quarantine: %d held message(s) older than keep_days = %d + %d day (oldest %.1f days, "
                        "e.g. %s): is the privacy-milter-quarantine-expire.timer running? "
                        "(systemctl status privacy-milter-quarantine-expire.timer)",
                        len(late), keep, GRACE_DAYS, oldest, late[0].queue_id)
        return len(late)

    async def digest(self, send: Callable[[EmailMessage, str, list[str]], Any]) -> None:
        q = self.policy.quarantine
        held = await self.held()
        m = EmailMessage()
        m["From"] = _from(self.policy)
        m["To"] = q.admin
        m["Subject"] = f"privacy-milter: {len(held)} message(s) held on {self.policy.store.host_name}"
        m["Auto-Submitted"] = "auto-generated"
        body = [f"{len(held)} message(s) held (keep_days {q.keep_days}); domains and reasons only.", ""]
        body += [text_line(h) for h in held] or ["(none)"]
        body += ["", "privacy-milter quarantine show ID | release ID --reason ... | delete ID --reason ..."]
        m.set_content("\n".join(body) + "\n")
        await send(m, "", [q.admin])


def _from(policy: Policy) -> str:
    return policy.quarantine.notice_from or f"postmaster@{policy.store.host_name}"


def contact(policy: Policy) -> str:
    return policy.quarantine.admin or f"postmaster@{policy.store.host_name}"


def notifier(policy: Policy, store: Any, loop: asyncio.AbstractEventLoop,
             send: Callable[[EmailMessage, str, list[str]], Any]) -> Notifier | None:
    q = policy.quarantine
    if not q.notify_sender:
        return None

    async def record(notice: Notice) -> None:
        if getattr(store.backend, "is_open", False):
            await events.record(store.backend, events.QuarantineEvent(
                time.time(), policy.store.host_name, notice.queue_id, "notice", "sender notified", notice.held_at))

    return Notifier(loop, send, interval=q.notice_interval, from_address=_from(policy),
                    contact=contact(policy), record=record)


def quarantine_jobs(policy: Policy, store: Any, notices: Notifier | None,
                    send: Callable[[EmailMessage, str, list[str]], Any]) -> list[Job]:
    watch = HoldQueueWatch(policy, store)
    # Not at start: the daemon starts before Postfix (its unit says Before=postfix.service).
    jobs = [Job("quarantine-check", Every(CHECK_EVERY), watch.check)]
    if notices is not None:
        jobs.append(Job("quarantine-notices", Every(NOTICE_FLUSH_EVERY), lambda: notices.flush_due(time.time())))
    if policy.quarantine.digest and policy.quarantine.admin:
        # Not once_per_period: on a shared store that would let one host claim the day, and
        # each host's hold queue is its own.
        jobs.append(Job("quarantine-digest", Daily(DIGEST_AT), lambda: watch.digest(send)))
    return jobs


def held_hook(policy_now: Callable[[], Policy], notices: Notifier,
              clock: Callable[[], float] = time.time) -> Callable[[Any, Any], None]:
    """What runtime calls (any thread) when it has finished a held verdict: the sender's
    notice, if this message deserves one. Never raises into the mail path."""
    from .notices import notice_for

    def on_held(message: Any, verdict: Any) -> None:
        policy = policy_now()
        try:
            notice = notice_for(message, verdict, policy.network.is_hosted, clock(), policy.quarantine.keep_days)
            if notice is not None:
                notices.held(notice)
        except Exception as exc:  # the message is already held; a notice is never worth a tempfail
            log.error("sender notice: %s", exc)

    return on_held
