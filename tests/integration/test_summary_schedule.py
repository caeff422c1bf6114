"""A simulated month on the virtual clock, with restarts, a daemon down over a Monday and an
SMTP server stopped for a while: exactly one summary per week reaches the aiosmtpd sink."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from datetime import datetime
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

from privacy_milter import policy as policy_mod
from privacy_milter.scheduler import Scheduler
from privacy_milter.services import SmtpSender
from privacy_milter.store import open_store
from privacy_milter.summary.job import summary_jobs
from tests.harness.clock import VirtualClock
from tests.harness.sink import Sink

TZ = ZoneInfo("Europe/London")
HOUR = 3600.0


class Tracked:
    """SmtpSender, with a count of job runs in flight so the test waits for real I/O (the
    store, the rendering, the SMTP session) to end before virtual time moves on."""

    def __init__(self, inner: SmtpSender) -> None:
        self.inner, self.busy, self.failures = inner, 0, 0

    async def send(self, message, sender, recipients):
        await self.inner.send(message, sender, recipients)

    def wrap(self, run):
        async def tracked():
            self.busy += 1
            try:
                return await run()
            except Exception:
                self.failures += 1
                raise
            finally:
                self.busy -= 1
        return tracked


async def _settle(sender: Tracked) -> None:
    for _ in range(2000):      # bounded: 20 s of real time at most
        if not sender.busy:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("a send never finished")


async def _run(clock: VirtualClock, sender: Tracked, until: float) -> None:
    while clock.now < until:   # an hour at a time, letting each real send finish
        await clock.advance_to(min(until, clock.now + HOUR))
        await _settle(sender)
        await clock.advance_to(clock.now)  # let the scheduler reach its next sleep


def _policy(tmp_path: Path, port: int) -> policy_mod.Policy:
    text = (f'[store]\npath = "{tmp_path / "metadata.db"}"\nkey_file = "{tmp_path / "address.key"}"\n'
            f'[summary]\nrecipients = ["postmaster@hosting.example"]\nfrom = "pm@hosting.example"\n'
            f'smtp_port = {port}\nhour = 7\n')
    return policy_mod.parse(text)


def _start(policy, clock, sender, store) -> Scheduler:
    sched = Scheduler(TZ, clock=clock, runs=store)  # the daemon's own store is the run log
    for job in summary_jobs(policy, sender=sender, clock=clock.time):
        sched.add(dataclasses.replace(job, run=sender.wrap(job.run)))
    sched.start()
    return sched


async def test_a_month_with_restarts_and_a_down_smtp_server_sends_one_per_week(tmp_path):
    start = datetime(2026, 11, 1, 12, tzinfo=TZ).timestamp()        # a Sunday
    clock = VirtualClock(start)
    with Sink() as sink:
        policy = _policy(tmp_path, sink.port)
        sender = Tracked(SmtpSender("127.0.0.1", sink.port, timeout=10.0, helo="test.invalid"))
        store = open_store(policy.store)
        await store.start()
        sched = _start(policy, clock, sender, store)
        try:
            # Mon 2 Nov 07:00: the first summary (for W44)
            await _run(clock, sender, datetime(2026, 11, 4, tzinfo=TZ).timestamp())
            assert sink.count() == 1
            # a restart mid-week sends nothing
            await sched.stop()
            sched = _start(policy, clock, sender, store)
            await _run(clock, sender, datetime(2026, 11, 9, 6, tzinfo=TZ).timestamp())
            assert sink.count() == 1
            # the SMTP server is down across Mon 9 Nov 07:00 for five hours: retried, sent once
            sink.stop()
            await _run(clock, sender, datetime(2026, 11, 9, 12, tzinfo=TZ).timestamp())
            assert sink.count() == 0 + 1 and sender.failures >= 3
            sink.start()
            await _run(clock, sender, datetime(2026, 11, 12, tzinfo=TZ).timestamp())
            assert sink.count() == 2
            # the daemon is down from Sun 15 Nov to Tue 17 Nov: sent late, once, on start
            await _run(clock, sender, datetime(2026, 11, 15, tzinfo=TZ).timestamp())
            await sched.stop()
            clock.jump(datetime(2026, 11, 17, 10, tzinfo=TZ).timestamp() - clock.now)
            sched = _start(policy, clock, sender, store)
            await _run(clock, sender, datetime(2026, 11, 18, tzinfo=TZ).timestamp())
            assert sink.count() == 3
            # two more restarts in the last week, then to the end of the month
            for day in (19, 23):
                await _run(clock, sender, datetime(2026, 11, day, 7, 30, tzinfo=TZ).timestamp())
                await sched.stop()
                sched = _start(policy, clock, sender, store)
            await _run(clock, sender, datetime(2026, 12, 1, tzinfo=TZ).timestamp())
        finally:
            await sched.stop()
            await store.close()
        got = sink.messages
    weeks = []
    for m in got:
        subject = str(message_from_bytes(m.raw)["Subject"])
        weeks.append(int(re.search(r"week (\d+) 2026", subject)[1]))
        assert m.rcpt_tos == ("postmaster@hosting.example",)
    assert weeks == [44, 45, 46, 47, 48]   # Mondays 2, 9, 16 (late, on the 17th), 23, 30 Nov
