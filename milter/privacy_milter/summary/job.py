"""The daemon's two summary jobs: the weekly email and the delivery-log reader.

    summary_jobs(policy, services=..., current=...) -> list[Job]

The weekly job builds the last complete week's report from the store (queries.py), sends
it to the admins and to each customer with recipients (its own domain only), through the
daemon's SmtpSender (`Services.smtp`), on the daemon's clock (`Services.clock`). It reads
the policy in force at each run (`current`), so a reload of [network] or [store]
retention reaches the next report; [summary] itself is restart-only (its weekday, hour,
timezone and log file make the schedule, set when the jobs are added). A failure raises:
the scheduler retries with backoff and logs it; what was already sent in this period is not
sent again by the retry. The logs name recipients by
count, never by address. The maillog job reads new Postfix log lines in a worker thread,
writes the deliveries and the poll's counts, and only then saves the reader's position, so
a crash between the two reads a line again rather than losing it.

Both jobs open the store named by `[store] backend` themselves, with short connections
(source.py): the SQLite file (creating the summary's tables if needed), or the shared
PostgreSQL database (pg_source.py), where the weekly report covers every host's records
with a per-host line. On a shared store the scheduler's `claim_run` makes one host send it.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
import time
from collections.abc import Callable
from datetime import UTC, datetime, time as dtime
from typing import Any, Protocol
from zoneinfo import ZoneInfo


from ..maillog import FilePositionStore, LogFollower
from ..maillog.pair import Delivery
from .. import hostname
from ..policy import Policy
from ..policy_sections import smtp_warnings
from ..scheduler import Every, Job, Weekly
from ..services import Services, SmtpSender
from ..metrics import Metrics, flagged_clear_deliveries
from .compose import compose
from .flagged_watch import FlaggedClearWatch
from .relays import configured_relays
from .source import report_query, write_poll
from .queries import build_report, iso_week_of, previous_week
from .quarantine import held_now

log = logging.getLogger("privacy_milter.summary")


class Sender(Protocol):
    async def send(self, message: Any, sender: str, recipients: list[str]) -> str | None: ...


def sender_address(policy: Policy) -> str:
    """[summary] from, else privacy-milter@ this host's one name (resolved into [store]
    host_name at start, hostname.py)."""
    return policy.summary.from_address or f"privacy-milter@{policy.store.host_name or hostname.best_effort()}"


class WeeklySummary:
    """One run = the summaries of the last complete week. Parts already sent this period are
    remembered (in memory), so a retry after a partial failure sends only what is missing."""

    def __init__(self, policy: Policy, sender: Sender, clock: Callable[[], float] = time.time,
                 current: Callable[[], Policy] | None = None) -> None:
        self.sender, self.clock = sender, clock
        self._policy, self._current = policy, current
        self._sent: set[tuple[str, str]] = set()

    @property
    def policy(self) -> Policy:
        """The policy in force (the daemon's, after any reload), else the one given."""
        return self._current() if self._current is not None else self._policy

    def week(self) -> str:
        tz = ZoneInfo(self.policy.summary.timezone)
        return previous_week(iso_week_of(datetime.fromtimestamp(self.clock(), UTC), tz))

    async def __call__(self) -> None:
        policy = self.policy   # one read per run: one report, one policy
        s = policy.summary
        week, tz = self.week(), ZoneInfo(s.timezone)
        groups: list[tuple[str | None, tuple[str, ...]]] = [(None, s.recipients)] if s.recipients else []
        groups += [(domain, rcpts) for domain, rcpts in s.customers.items() if rcpts]
        relays = await asyncio.to_thread(configured_relays)   # Postfix's relayhost, as it is now
        async with report_query(policy.store, readonly=False) as (query, _, _):
            for scope, rcpts in groups:
                key = (week, scope or "")
                if key in self._sent:
                    continue
                report = await build_report(query, week, tz, s.top_n, scope,
                                            retention_days=policy.store.retention_days,
                                            hosted=policy.network.hosted_domains or None,
                                            relays=relays, held_since=await held_now(policy),
                                            keep_days=policy.quarantine.keep_days)
                msg = compose(report, sender_address(policy), list(rcpts),
                              datetime.fromtimestamp(self.clock(), tz))
                how = await self.sender.send(msg, sender_address(policy), list(rcpts))
                self._sent.add(key)
                log.info("summary %s%s sent to %d recipient(s)%s", week,
                         f" for {scope}" if scope else "", len(rcpts), f" ({how})" if how else "")


class MaillogPoll:
    def __init__(self, policy: Policy, follower: LogFollower,
                 watch: FlaggedClearWatch | None = None, clock: Callable[[], float] = time.time) -> None:
        self.policy, self.follower, self.watch, self.clock = policy, follower, watch, clock

    def _ours(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Postfix logs under the first label of its myhostname (`mx1`), the records carry
        the whole name (`mx1.example.net`): rows this host logged get the records' name, so
        the summary's host table shows one machine once. Other hosts' rows (a shared log)
        keep theirs."""
        host = self.policy.store.host_name
        if not host:
            return deliveries
        ours = {host, host.partition(".")[0]}
        return [replace(d, host=host) if d.host in ours else d for d in deliveries]

    async def __call__(self) -> int:
        stats = self.follower.stats
        before = (stats.lines, stats.unparsed)
        deliveries = self._ours(await asyncio.to_thread(self.follower.poll, False))
        lines, unparsed = stats.lines - before[0], stats.unparsed - before[1]
        if deliveries or lines:
            await write_poll(self.policy.store, deliveries, lines, unparsed, self.clock())
        await asyncio.to_thread(self.follower.commit)   # only after the rows are stored
        if self.watch is not None:
            await self.watch(deliveries)                 # the metric: flagged mail sent in clear
        return len(deliveries)


def summary_jobs(policy: Policy, sender: Sender | None = None,
                 clock: Callable[[], float] | None = None,
                 policy_for: Callable[[str], str] | None = None,
                 metrics: Metrics | None = None, *, services: Services | None = None,
                 current: Callable[[], Policy] | None = None) -> list[Job]:
    """The jobs [summary] asks for: the weekly email when enabled, the reader when `maillog`
    is set. Both need the scheduler's timezone to be `[summary] timezone` for the weekday/hour.

    The daemon hands its `services` (the SMTP sender and the clock) and `current` (its policy
    in force); `sender` and `clock` given here win (tests, tools); without either, an
    SmtpSender from [smtp] and the system clock."""
    s = policy.summary
    clock = clock or (services.clock if services is not None else time.time)
    sender = sender or (services.smtp if services is not None else None)
    jobs = []
    if s.enabled:
        t = policy.smtp
        log.info("summary: sent weekly through %s:%d, tls = %s%s", t.host, t.port, t.tls,
                 " (the default for this host)" if t.tls_defaulted else "")
        for warning in smtp_warnings(t):
            log.warning("%s", warning)
        smtp = sender or SmtpSender.from_settings(policy.smtp, helo=policy.store.host_name or hostname.best_effort())
        jobs.append(Job("summary", Weekly(s.weekday, dtime(s.hour, 0)),
                        WeeklySummary(policy, smtp, clock, current), once_per_period=True))
    if s.maillog:
        follower = LogFollower(s.maillog, FilePositionStore(s.maillog_state), policy_for=policy_for,
                               tz=ZoneInfo(s.timezone), from_start=False)
        poll = MaillogPoll(policy, follower, _watch(policy, metrics), clock)
        jobs.append(Job("maillog", Every(s.maillog_interval), poll, at_start=True))
    return jobs


def _watch(policy: Policy, metrics: Metrics | None) -> FlaggedClearWatch | None:
    """The flagged-in-clear counter, when the daemon has metrics (read at start: the relayhost)."""
    if metrics is None:
        return None
    return FlaggedClearWatch(policy.store, flagged_clear_deliveries(metrics), configured_relays())
