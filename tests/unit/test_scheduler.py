"""The scheduler on a virtual clock: wall-clock times across DST, once per period across
restarts and downtime, failing jobs retried without stopping the others."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from privacy_milter.scheduler import Daily, Every, Job, MemoryRunLog, Scheduler, Weekly
from tests.harness.clock import VirtualClock

LONDON = ZoneInfo("Europe/London")
HOUR, DAY = 3600.0, 86400.0


def ts(*args):
    return datetime(*args, tzinfo=UTC).timestamp()


def local(stamp):
    return datetime.fromtimestamp(stamp, LONDON)


async def test_daily_job_keeps_its_local_hour_across_both_dst_changes():
    clock = VirtualClock(ts(2026, 3, 27, 12))  # before the spring change (29 March)
    runs = []

    async def job():
        runs.append(local(clock.time()))

    sched = Scheduler(LONDON, clock)
    sched.add(Job("purge", Daily(time(4, 0)), job))
    sched.start()
    await clock.advance_to(ts(2026, 11, 1, 12))
    await sched.stop()
    assert len(runs) == 219  # 28 March .. 1 November inclusive: one a day, none twice
    assert {(r.hour, r.minute) for r in runs} == {(4, 0)}
    assert len({r.date() for r in runs}) == len(runs)


async def test_a_time_in_the_spring_gap_runs_once_an_hour_later_and_the_autumn_fold_once():
    clock = VirtualClock(ts(2026, 3, 28, 12))
    runs = []

    async def job():
        runs.append(local(clock.time()))

    sched = Scheduler(LONDON, clock)
    sched.add(Job("x", Daily(time(1, 30)), job))
    sched.start()
    await clock.advance_to(ts(2026, 3, 31, 12))
    clock_fold = [r for r in runs if r.date().isoformat() == "2026-03-29"]
    assert [(r.hour, r.minute) for r in clock_fold] == [(2, 30)]  # 01:30 does not exist that day
    await sched.stop()

    clock2 = VirtualClock(ts(2026, 10, 24, 12))
    runs2 = []

    async def job2():
        runs2.append(clock2.time())

    sched2 = Scheduler(LONDON, clock2)
    sched2.add(Job("y", Daily(time(1, 30)), job2))
    sched2.start()
    await clock2.advance_to(ts(2026, 10, 26, 12))
    await sched2.stop()
    on_fold_day = [t for t in runs2 if local(t).date().isoformat() == "2026-10-25"]
    assert len(on_fold_day) == 1 and on_fold_day[0] == ts(2026, 10, 25, 0, 30)  # the first 01:30 (BST)


async def test_weekly_job_runs_exactly_once_a_week_through_restarts_and_downtime():
    clock = VirtualClock(ts(2026, 11, 2, 0))  # Monday 2 November 2026, midnight
    runs_log = MemoryRunLog()
    sent = []

    async def summary():
        sent.append(local(clock.time()))

    def start():
        s = Scheduler(LONDON, clock, runs_log)
        s.add(Job("summary", Weekly(0, time(7, 0)), summary, once_per_period=True))
        s.start()
        return s

    sched = start()
    await clock.advance_to(ts(2026, 11, 4, 12))      # week 45 sent on Monday 07:00
    await sched.stop()
    sched = start()                                   # a restart mid-week sends nothing more
    await clock.advance_to(ts(2026, 11, 8, 12))
    await sched.stop()
    clock.jump(2 * DAY)                               # down over Monday 9th 07:00 (week 46)
    sched = start()                                   # back on Tuesday: sent late, once
    await clock.advance_to(ts(2026, 11, 10, 13))
    await sched.stop()
    sched = start()                                   # and a restart right after: not again
    await clock.advance_to(ts(2026, 12, 1, 12))       # weeks 47, 48, 49
    await sched.stop()
    weeks = [r.isocalendar()[1] for r in sent]
    assert weeks == [45, 46, 47, 48, 49]
    assert runs_log.runs["summary"] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48", "2026-W49"]
    assert sent[1].date().isoformat() == "2026-11-10"  # the late one, on start
    assert all((r.weekday(), r.hour) == (0, 7) for i, r in enumerate(sent) if i != 1)


async def test_a_failing_job_is_retried_with_backoff_and_others_keep_running(caplog):
    clock = VirtualClock(ts(2026, 11, 2, 0))
    attempts, ticks = [], []

    async def flaky():
        attempts.append(clock.time())
        if len(attempts) < 4:
            raise OSError("smtp down")

    async def tick():
        ticks.append(clock.time())

    sched = Scheduler(LONDON, clock)
    sched.add(Job("summary", Weekly(0, time(7, 0)), flaky, once_per_period=True))
    sched.add(Job("tick", Every(600), tick))
    sched.start()
    await clock.advance_to(ts(2026, 11, 2, 12))
    await sched.stop()
    first = ts(2026, 11, 2, 7)
    assert [a - first for a in attempts] == [0, 60, 180, 420]  # 60 s, then doubling
    assert len(ticks) == 72  # every 10 minutes for 12 hours, failures or not
    assert "job summary failed (OSError: smtp down); retrying in 60s" in caplog.text
    assert sched.runs.runs["summary"] == ["2026-W45"]  # type: ignore[attr-defined]


async def test_at_start_job_runs_immediately_then_on_schedule():
    clock = VirtualClock(ts(2026, 11, 2, 10))
    runs = []

    async def purge():
        runs.append(clock.time())

    sched = Scheduler(LONDON, clock)
    sched.add(Job("purge", Daily(time(4, 0)), purge, at_start=True))
    sched.start()
    await clock.advance_to(ts(2026, 11, 4, 5))
    await sched.stop()
    assert runs == [ts(2026, 11, 2, 10), ts(2026, 11, 3, 4), ts(2026, 11, 4, 4)]


class BrokenRunLog(MemoryRunLog):
    async def last_run(self, job):
        raise OSError("database is locked")


async def test_an_unreadable_run_log_runs_the_job_rather_than_skip_it(caplog):
    clock = VirtualClock(ts(2026, 11, 2, 6))
    sent = []

    async def summary():
        sent.append(clock.time())

    sched = Scheduler(LONDON, clock, BrokenRunLog())
    sched.add(Job("summary", Weekly(0, time(7, 0)), summary, once_per_period=True))
    sched.start()
    await clock.advance_to(ts(2026, 11, 2, 8))
    await sched.stop()
    assert sent == [ts(2026, 11, 2, 7)]  # no guessed catch-up at start; the due run goes ahead
    assert "cannot read its past runs" in caplog.text


class SharedRunLog(MemoryRunLog):
    """Two hosts on one store: a period is claimed once."""

    def __init__(self):
        super().__init__()
        self.claims = {}

    def for_host(self, host):
        log = self

        class View:
            async def last_run(self, job):
                return await log.last_run(job)

            async def record_run(self, job, period, when):
                await log.record_run(job, period, when)

            async def claim_run(self, job, period):
                return log.claims.setdefault((job, period), host) == host

        return View()


async def test_two_hosts_sharing_a_store_send_one_summary_per_week():
    clock = VirtualClock(ts(2026, 11, 2, 0))
    shared = SharedRunLog()
    sent = []

    def summary_for(host):
        async def run():
            sent.append(host)
        return run

    scheds = []
    for host in ("mx1", "mx2"):
        s = Scheduler(LONDON, clock, shared.for_host(host))
        s.add(Job("summary", Weekly(0, time(7, 0)), summary_for(host), once_per_period=True))
        s.start()
        scheds.append(s)
    await clock.advance_to(ts(2026, 11, 24, 12))
    for s in scheds:
        await s.stop()
    assert len(sent) == 4  # weeks 45..48, once each, whichever host claimed it
    assert shared.runs["summary"] == ["2026-W45", "2026-W46", "2026-W47", "2026-W48"]
