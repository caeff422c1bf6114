"""Jobs on the event loop at wall-clock times: the daily purge, the weekly summary, refreshes.

A job names when it runs (`Daily`, `Weekly` at a local time in the configured timezone, or
`Every` N seconds), and the scheduler sleeps until the next occurrence. Times are computed
in the timezone with zoneinfo, so "Monday 07:00 Europe/London" stays 07:00 across DST: a
local time that does not exist (the spring gap) runs later by the gap (01:30 becomes 02:30
summer time), one that exists twice (the autumn fold) runs once, at its first occurrence.

A job that fails is logged and retried with backoff, and never stops the others. A job with
`once_per_period` records each period it completed in a RunLog (the store), so it runs
exactly once per period across restarts, and late (once, at start) when the daemon was down
at its hour (a job that has never run has missed nothing). The clock is injected: a test runs a simulated month in milliseconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time as dtime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

log = logging.getLogger("privacy_milter.scheduler")

RETRY_FIRST = 60.0        # seconds before the first retry of a failed job
RETRY_MAX = 3600.0        # backoff doubles up to this
UNKNOWN = "?"             # a run log that could not be read


class Clock(Protocol):
    def time(self) -> float: ...          # seconds since the epoch (UTC)

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class RunLog(Protocol):
    """Where once-per-period jobs record the periods they completed (the store)."""

    async def last_run(self, job: str) -> str | None: ...

    async def record_run(self, job: str, period: str, when: float) -> None: ...


class MemoryRunLog:
    def __init__(self) -> None:
        self.runs: dict[str, list[str]] = {}

    async def last_run(self, job: str) -> str | None:
        periods = self.runs.get(job)
        return periods[-1] if periods else None

    async def record_run(self, job: str, period: str, when: float) -> None:
        self.runs.setdefault(job, []).append(period)


# --- schedules ---------------------------------------------------------------------------

class Schedule(Protocol):
    def next_after(self, now: datetime, tz: ZoneInfo) -> datetime:
        """The first occurrence strictly after `now` (aware), as an aware UTC datetime."""

    def period_of(self, when: datetime, tz: ZoneInfo) -> str:
        """A key naming the period an occurrence belongs to (its local date or ISO week)."""


def _at_local(day: datetime, at: dtime, tz: ZoneInfo) -> datetime:
    """`at` on the local calendar date of `day`, in UTC. fold=0 picks the first of a repeated
    autumn time, and moves a spring-gap time forward by the gap (01:30 becomes 02:30 BST)."""
    return datetime.combine(day.date(), at, tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Daily:
    at: dtime

    def next_after(self, now: datetime, tz: ZoneInfo) -> datetime:
        local = now.astimezone(tz)
        for offset in range(0, 3):
            candidate = _at_local(local + timedelta(days=offset), self.at, tz)
            if candidate > now:
                return candidate
        raise AssertionError("unreachable: a day always has the time once")

    def period_of(self, when: datetime, tz: ZoneInfo) -> str:
        return when.astimezone(tz).date().isoformat()


@dataclass(frozen=True)
class Weekly:
    weekday: int  # Monday = 0, as datetime.weekday()
    at: dtime

    def next_after(self, now: datetime, tz: ZoneInfo) -> datetime:
        local = now.astimezone(tz)
        for offset in range(0, 15):
            day = local + timedelta(days=offset)
            if day.weekday() != self.weekday:
                continue
            candidate = _at_local(day, self.at, tz)
            if candidate > now:
                return candidate
        raise AssertionError("unreachable: a fortnight holds the weekday")

    def period_of(self, when: datetime, tz: ZoneInfo) -> str:
        year, week, _ = when.astimezone(tz).isocalendar()
        return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Every:
    seconds: float

    def next_after(self, now: datetime, tz: ZoneInfo) -> datetime:
        return now + timedelta(seconds=self.seconds)

    def period_of(self, when: datetime, tz: ZoneInfo) -> str:
        return when.isoformat()


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


# --- jobs and the scheduler --------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    name: str
    schedule: Schedule
    run: Callable[[], Awaitable[object]]
    once_per_period: bool = False  # record completed periods; catch up a missed one at start
    at_start: bool = False         # also run once when the scheduler starts (e.g. the purge)


class Scheduler:
    def __init__(self, tz: ZoneInfo, clock: Clock | None = None, runs: RunLog | None = None) -> None:
        self.tz = tz
        self.clock = clock or SystemClock()
        self.runs: RunLog = runs or MemoryRunLog()
        self._jobs: list[Job] = []
        self._tasks: list[asyncio.Task[None]] = []

    def add(self, job: Job) -> None:
        self._jobs.append(job)
        if self._tasks:  # already running: start this one too
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job-{job.name}"))

    def start(self) -> None:
        for job in self._jobs:
            self._tasks.append(asyncio.create_task(self._loop(job), name=f"job-{job.name}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def _loop(self, job: Job) -> None:
        if job.once_per_period:
            await self._catch_up(job)
        elif job.at_start:
            await self._run(job, None)
        while True:
            now = self.now()
            due = job.schedule.next_after(now, self.tz)
            await self.clock.sleep(max(0.0, (due - now).total_seconds()))
            period = job.schedule.period_of(due, self.tz) if job.once_per_period else None
            if period is not None and await self._safe_last_run(job) == period:
                continue  # already done for this period (by a run that caught up, or another host)
            await self._run(job, period)

    async def _catch_up(self, job: Job) -> None:
        """Run the current period's occurrence now if it is past and was never completed."""
        now = self.now()
        # The latest occurrence at or before now: step back one period and ask for the next.
        last_due = job.schedule.next_after(now - timedelta(days=8), self.tz)
        while (following := job.schedule.next_after(last_due, self.tz)) <= now:
            last_due = following
        if last_due > now:
            return
        period = job.schedule.period_of(last_due, self.tz)
        last = await self._safe_last_run(job)
        if last is None or last == UNKNOWN:
            return  # never run before (a new install), or cannot tell: the next time will do
        if last != period:
            log.info("job %s: the %s run was missed; running it now", job.name, period)
            await self._run(job, period)

    async def _claim(self, job: Job, period: str) -> bool:
        claim = getattr(self.runs, "claim_run", None)
        if claim is None:
            return True
        try:
            return bool(await claim(job.name, period))
        except Exception as exc:  # cannot tell: run it; a duplicate beats a silent gap
            log.error("job %s: cannot claim %s (%s); running it here", job.name, period, exc)
            return True

    async def _safe_last_run(self, job: Job) -> str | None:
        try:
            return await self.runs.last_run(job.name)
        except Exception as exc:  # cannot tell: assume not run, a duplicate beats a silent gap
            log.error("job %s: cannot read its past runs (%s)", job.name, exc)
            return UNKNOWN

    async def _run(self, job: Job, period: str | None) -> None:
        """Run until it succeeds, with backoff; for once-per-period jobs, record the period.
        On a store several hosts share, the period is claimed first: one host does it."""
        if period is not None and not await self._claim(job, period):
            log.info("job %s: %s is being done by another host", job.name, period)
            return
        delay = RETRY_FIRST
        while True:
            try:
                await job.run()
                if period is not None:
                    await self.runs.record_run(job.name, period, self.clock.time())
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a failing job never stops the others
                log.error("job %s failed (%s: %s); retrying in %gs", job.name, type(exc).__name__,
                          exc, delay)
            await self.clock.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
