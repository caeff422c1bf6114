"""The sender's notice when their outbound mail is held (issue 27).

Who gets one: the envelope sender of an OUTBOUND message whose domain is one of ours
([network] hosted_domains), never the sender of inbound mail (that would be backscatter to
an address anybody can forge), never a null sender. What it says: the kind of data found
(categories only: never a value, never the subject, never a recipient address), that the
message was held and not sent, its queue id, when it will be deleted, and who to ask.

How often: at most one per sender per [quarantine] notice_interval (an hour by default);
the messages held in between are counted and summarised in one later notice ("N more of
your messages were held"), sent by `flush_due` once the interval has passed.
Sent with the null envelope sender and Auto-Submitted: auto-generated (RFC 3834), so no
bounce or auto-reply can loop back.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from ..model import Direction, Message, Verdict
from .held import iso

log = logging.getLogger("privacy_milter.quarantine")

KINDS = {
    "payment_card": "a payment card number",
    "iban": "a bank account number (IBAN)",
    "uk_account": "UK bank account details (sort code and account number)",
    "credential": "a password, key or other login secret",
    "unscannable": "content that could not be checked",
}

Send = Callable[[EmailMessage, str, list[str]], Awaitable[str]]


def describe(categories: list[str]) -> str:
    kinds = [KINDS.get(c, c.replace("_", " ")) for c in categories] or ["content our policy holds"]
    return kinds[0] if len(kinds) == 1 else ", ".join(kinds[:-1]) + " and " + kinds[-1]


@dataclass(frozen=True)
class Notice:
    """What a notice is built from: no field can hold a found value or a subject."""

    sender: str                   # the envelope sender (our own customer)
    queue_id: str
    categories: tuple[str, ...]
    rcpt_domains: tuple[str, ...]
    held_at: float
    delete_at: float


def notice_for(message: Message, verdict: Verdict, hosted: Callable[[str], bool], now: float,
               keep_days: int) -> Notice | None:
    """The notice this held message deserves, or None (inbound, not ours, null sender)."""
    decision = message.decision  # None: never decided (a tempfail before it): no notice
    if decision is None or decision.direction is not Direction.OUTBOUND:
        return None
    if not message.mail_from or not hosted(message.sender_domain):
        return None
    categories = tuple(sorted({f.category for f in verdict.findings}))
    domains = tuple(sorted({r.domain for r in message.recipients}))
    return Notice(message.mail_from, message.queue_label, categories, domains, now, now + keep_days * 86400)


def compose(notice: Notice, *, from_address: str, contact: str, more: int = 0) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"Mail privacy check <{from_address}>"
    m["To"] = notice.sender
    m["Subject"] = "Your message was held and not sent"
    m["Date"] = formatdate(localtime=False)
    m["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    m["Auto-Submitted"] = "auto-generated"
    m["Precedence"] = "bulk"
    lines = [
        f"A message you sent to {', '.join(notice.rcpt_domains) or 'a recipient'} on {iso(notice.held_at)} "
        f"appears to contain {describe(list(notice.categories))}.",
        "",
        "It was held and NOT sent. Nobody outside our mail service has seen it.",
        f"Unless it is released, it will be deleted on {iso(notice.delete_at)}.",
        "",
        f"If you need it sent, ask {contact} and quote the reference {notice.queue_id}.",
        "Better still, share such details by phone or a secure link instead of email.",
    ]
    if more:
        lines += ["", f"{more} more of your messages were held since the last notice; ask {contact} "
                      "for their references."]
    m.set_content("\n".join(lines) + "\n")
    return m


def compose_summary(sender: str, count: int, *, from_address: str, contact: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"Mail privacy check <{from_address}>"
    m["To"] = sender
    m["Subject"] = f"{count} more of your messages were held and not sent"
    m["Date"] = formatdate(localtime=False)
    m["Auto-Submitted"] = "auto-generated"
    m["Precedence"] = "bulk"
    m.set_content(f"Since our last notice, {count} more of your messages appeared to contain payment, bank "
                  f"or login details. They were held and NOT sent.\nAsk {contact} if any of them must go.\n")
    return m


@dataclass
class RateLimit:
    """One notice per sender per interval; the rest counted for a summary later."""

    interval: float
    _last: dict[str, float] = field(default_factory=dict)
    _held_back: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def admit(self, sender: str, now: float) -> int | None:
        """None: not now (counted). Otherwise how many were held back before this one."""
        key = sender.lower()
        with self._lock:
            if now - self._last.get(key, -self.interval) < self.interval:
                self._held_back[key] = self._held_back.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._held_back.pop(key, 0)

    def due(self, now: float) -> list[tuple[str, int]]:
        """Senders whose interval has passed with messages held back: summarise those now."""
        with self._lock:
            ready = [(s, n) for s, n in self._held_back.items() if now - self._last.get(s, 0) >= self.interval]
            for s, _ in ready:
                del self._held_back[s]
                self._last[s] = now
            # Forget senders idle for a day: the table stays bounded.
            for s in [s for s, t in self._last.items() if now - t > 86400 and s not in self._held_back]:
                del self._last[s]
            return ready


class Notifier:
    """The daemon's side: `held` is called from any thread when a held verdict is finished;
    the notice is sent on the loop, and a failure is logged, never raised into the mail path."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, *, interval: float, from_address: str,
                 contact: str, record: Callable[[Notice], Awaitable[None]] | None = None) -> None:
        self.loop = loop
        self.send = send
        self.limit = RateLimit(interval)
        self.from_address = from_address
        self.contact = contact
        self.record = record
        self._tasks: set[concurrent.futures.Future[None]] = set()

    def held(self, notice: Notice) -> None:
        more = self.limit.admit(notice.sender, notice.held_at)
        if more is None:
            log.info("%s: sender notice not sent: one already went to this sender within the interval "
                     "(counted for a summary)", notice.queue_id)
            return
        email = compose(notice, from_address=self.from_address, contact=self.contact, more=more)
        future = asyncio.run_coroutine_threadsafe(self._send(notice, email), self.loop)
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    async def _send(self, notice: Notice, email: EmailMessage) -> None:
        try:
            await self.send(email, "", [notice.sender])
        except Exception as exc:  # a notice must never disturb mail; the log says it failed
            log.warning("%s: sender notice failed: %s", notice.queue_id, exc)
            return
        log.info("%s: sender notice sent (%s)", notice.queue_id, ",".join(notice.categories) or "held")
        if self.record is not None:
            try:
                await self.record(notice)
            except Exception as exc:
                log.warning("%s: sender notice not recorded in the store: %s", notice.queue_id, exc)

    async def flush_due(self, now: float) -> int:
        """Send the summaries whose interval has passed (a job runs this every few minutes)."""
        sent = 0
        for sender, count in self.limit.due(now):
            try:
                await self.send(compose_summary(sender, count, from_address=self.from_address,
                                                contact=self.contact), "", [sender])
                sent += 1
            except Exception as exc:
                log.warning("sender notice summary (%d held) failed: %s", count, exc)
        return sent
