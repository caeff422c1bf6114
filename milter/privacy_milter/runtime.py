"""The daemon's state on the event loop: policy in force, pipeline, store, scheduled jobs.

`judge` is the one entry point for a finished message (from a libmilter thread; `process`
is the same on the loop). Policy and pipeline live in one
Snapshot that reload replaces with a single assignment, so a message (read from a libmilter
thread) always sees one consistent pair; an invalid policy file is refused and the running
one stays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from . import direction, hostname, logcontext
from .errors import PolicyError
from .logline import message_line
from .loopthread import LoopThread
from .model import Action, Message, Result, Verdict
from .pipeline import DEFAULT_REPLIES, Pipeline, Prepared
from .services import DnsTxt, Services, SmtpSender, http_session
from .policy import Overrides, Policy, load_with
from .metrics import Metrics
from .registry import FILTERS, build_pipeline
from .scheduler import Daily, Job, Scheduler
from .store import AddressHasher, Store, open_store, record_from
from .store.policycache import SqlitePolicyCache
from .store.reports import StoreReports
from .summary.job import summary_jobs
from .tlspolicy.service import TlsPolicyService
from .tlspolicy.health import log_resolver_warning
from .tlspolicy.model import TlsPolicyError
from .plugin import policy_warnings

log = logging.getLogger("privacy_milter")

DAY = 86400.0
PURGE_AT = dtime(4, 0)  # the daily retention purge (and once at start)
WATCH_INTERVAL = 2.0
# Sections a reload does not apply: sockets, store and metrics endpoint are opened at start,
# the SMTP sender is made at start, and [summary] sets the jobs' schedule (weekday, hour,
# timezone, the log file the reader follows) when they are added (docs/POLICY.md lists them).
# [quarantine]: the sender notices and the hold-queue jobs are set up at start.
RESTART_ONLY = ("milter", "store", "tls_policy", "metrics", "summary", "smtp", "quarantine")


@dataclasses.dataclass(frozen=True)
class Snapshot:
    policy: Policy
    pipeline: Pipeline


class Runtime:
    def __init__(self, policy: Policy, store: Store, hasher: AddressHasher, *,
                 policy_path: Path | None = None, overrides: Overrides = Overrides(),
                 tls_service: TlsPolicyService | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.tls_service = tls_service
        # The daemon's one set of services (docs/ARCHITECTURE.md, Services); made on the loop.
        self.services = Services(tls_classifier=tls_service, store=store, clock=clock, dns_txt=DnsTxt(),
                                 host_name=policy.store.host_name, http=http_session(),
                                 smtp=SmtpSender.from_settings(policy.smtp, helo=policy.store.host_name),
                                 reports=StoreReports(policy.store))
        self.snapshot = Snapshot(policy, build_pipeline(policy, self.services))
        self.store = store
        self.hasher = hasher
        self.policy_path = policy_path
        self.overrides = overrides
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self.scheduler = Scheduler(ZoneInfo("UTC"))
        self.metrics = Metrics(FILTERS)
        self._loop: LoopThread | None = None
        self._reload_lock = threading.Lock()
        self._policy_stamp = self._stamp()
        self._purge_claimed = ""  # the day this host claimed the shared store's purge
        self.on_held: Callable[[Message, Verdict], None] | None = None  # issue 27: the sender's notice

    @classmethod
    async def start(cls, policy: Policy, *, policy_path: Path | None = None,
                    overrides: Overrides = Overrides(), watch: bool = True) -> "Runtime":
        # The address key must be readable (or creatable): without it no record can be made,
        # and raw addresses are never kept instead, so a missing key refuses to start. The
        # database may be broken: the store then keeps records in memory (bounded) and keeps
        # trying, and mail flows (see docs/ARCHITECTURE.md, Failure behaviour).
        # A key that differs from the one the store was created with refuses to start.
        # This host's one name (hostname.py), resolved once: the store's host column, the
        # authserv-id, the summary's From and HELO all use it; reloads keep it (Overrides).
        overrides = dataclasses.replace(overrides, host_name=await asyncio.to_thread(
            hostname.resolve, policy.store.host_name))
        policy = overrides.apply(policy)
        log.info("host name: %s", policy.store.host_name)
        hasher = AddressHasher.from_file(policy.store.key_file)
        store = open_store(policy.store, hasher)
        await store.start()
        tls_service = None
        if policy.tls_policy.enabled:
            tls_service = TlsPolicyService(policy.tls_policy.config,
                                           cache=SqlitePolicyCache(policy.store.path))
            try:
                Path(policy.tls_policy.config.socket_path).parent.mkdir(parents=True, exist_ok=True)
                await tls_service.start()
            except OSError as exc:
                await tls_service.stop()
                await store.close()
                raise TlsPolicyError(f"cannot start the TLS policy service on "
                                 f"{policy.tls_policy.config.socket_path}: {exc}") from None
        runtime = cls(policy, store, hasher, policy_path=policy_path, overrides=overrides,
                      tls_service=tls_service)
        runtime.metrics.watch_store(lambda: store.pending, lambda: store.health.failures,
                                    lambda: store.health.dropped)
        if (address := policy.metrics.address) is not None:
            try:
                runtime.metrics.serve(*address)
            except OSError as exc:  # mail matters more than figures: serve without them
                log.error("metrics: cannot listen on %s (%s); running without the endpoint",
                          policy.metrics.listen, exc.strerror)
        runtime.scheduler.runs = store  # once-per-period jobs record their runs in the store
        runtime.scheduler.add(Job("purge", Daily(PURGE_AT), runtime.purge, at_start=True))
        runtime.scheduler.tz = ZoneInfo(policy.summary.timezone)  # weekday/hour are local
        policy_for = tls_service.policy_for if tls_service is not None else None
        # The weekly summary and the delivery-log reader: the summary reads the policy in force
        # when it runs, so a reload reaches it (all but [summary] itself, restart-only).
        for job in summary_jobs(policy, services=runtime.services, current=lambda: runtime.policy,
                                policy_for=policy_for, metrics=runtime.metrics):
            runtime.scheduler.add(job)
        runtime._quarantine(policy, store)
        runtime.scheduler.start()
        await store.note("start")
        await asyncio.to_thread(runtime._filters_hook, "start")
        if watch and policy_path is not None:
            runtime._tasks.append(asyncio.create_task(runtime._watch_policy(), name="policy-watch"))
        # Issue 23: say at start what would make flagged mail fail closed on every message.
        for warning in await asyncio.to_thread(policy_warnings, FILTERS.values(), policy.site):  # may ask postconf
            log.warning("%s", warning)
        if tls_service is not None:  # a bounded DNS query; start-up does not wait for it
            runtime._tasks.append(asyncio.create_task(log_resolver_warning(policy.tls_policy.config),
                                                      name="resolver-check"))
        return runtime

    def _quarantine(self, policy: Policy, store: Store) -> None:
        """Issue 27: sender notices for held mail, the hourly hold-queue check, the digest."""
        from .quarantine.watch import held_hook, notifier, quarantine_jobs

        if self.services.smtp is None:  # made in __init__ from [smtp]; None only in tests
            return
        send = self.services.smtp.send
        notices = notifier(policy, store, asyncio.get_running_loop(), send)
        if notices is not None:
            self.on_held = held_hook(lambda: self.policy, notices, self.clock)
        for job in quarantine_jobs(policy, store, notices, send):
            self.scheduler.add(job)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await asyncio.to_thread(self._filters_hook, "stop")
        self.metrics.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.tls_service is not None:
            await self.tls_service.stop()
        if self.services.http is not None:
            await self.services.http.close()
        await self.store.close()

    def _note(self, kind: str, count: int = 1) -> None:
        """An event for the summary, from whichever thread (reloads run off the loop)."""
        note = getattr(self.store, "note_threadsafe", None)
        if note is not None:
            note(kind, count)

    def _filters_hook(self, which: str) -> None:
        """Each known filter's start or stop hook (a worker to warm, or to end); a failing one
        is logged and the others still run."""
        for spec in FILTERS.values():
            hook = spec.start if which == "start" else spec.stop
            if hook is None:
                continue
            try:
                hook()
            except Exception as exc:
                log.error("filter %s: %s hook failed (%s)", spec.name, which, exc)

    @property
    def policy(self) -> Policy:
        return self.snapshot.policy

    @property
    def pipeline(self) -> Pipeline:
        return self.snapshot.pipeline

    # --- one message ---------------------------------------------------------------------

    def attach(self, loop: LoopThread) -> None:
        """The loop this runtime lives on, for `judge` called from libmilter threads."""
        self._loop = loop

    def judge(self, message: Message) -> Verdict:
        """In the SMTP connection's thread: everything between end of message and the answer
        Postfix gets. The deadline covers the filters' CPU work here and their checks on the
        loop; past it the message is tempfailed, and the record says so: every record states
        what Postfix was told."""
        assert self._loop is not None, "Runtime.attach(loop) first"
        snapshot, prepared, started = self._begin(message)
        try:
            if (message.deadline or 0.0) <= time.monotonic():
                raise TimeoutError
            outcome = snapshot.pipeline.run_now(message, snapshot.policy.site, self.services, prepared)
            if isinstance(outcome, Verdict):
                verdict = outcome  # every filter answered here: no hop to the loop
            else:
                coro = snapshot.pipeline.run(message, snapshot.policy.site, self.services, prepared, outcome)
                coro = logcontext.tagged(logcontext.current(), coro)  # the loop's lines are tagged too
                verdict = self._loop.run(coro, (message.deadline or 0.0) - time.monotonic())
        except TimeoutError:
            verdict = self._past_deadline(message, snapshot.policy)
        self._finish(message, verdict, started)
        return verdict

    async def process(self, message: Message) -> Verdict:
        """The same as `judge`, called on the loop itself (tests, tools): no thread hop."""
        token = logcontext.set_tag(message.queue_label)
        try:
            return await self._process(message)
        finally:
            logcontext.reset_tag(token)

    async def _process(self, message: Message) -> Verdict:
        snapshot, prepared, started = self._begin(message)
        remaining = (message.deadline or 0.0) - time.monotonic()
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                verdict = await snapshot.pipeline.run(message, snapshot.policy.site, self.services, prepared)
        except TimeoutError:
            verdict = self._past_deadline(message, snapshot.policy)
        self._finish(message, verdict, started)
        return verdict

    def _begin(self, message: Message) -> tuple[Snapshot, Prepared, float]:
        snapshot = self.snapshot  # one read: one consistent policy and pipeline for this message
        policy = snapshot.policy
        started = time.monotonic()
        message.deadline = started + policy.milter.deadline
        message.direction = direction.decide(message.session, message.recipients, policy.network)
        return snapshot, snapshot.pipeline.prepare(message, message.deadline), started

    def _past_deadline(self, message: Message, policy: Policy) -> Verdict:
        seconds = policy.milter.deadline
        log.error("tempfail: no verdict within the %gs deadline", seconds)
        result = Result("deadline", action=Action.TEMPFAIL, error=f"no verdict within {seconds:g}s",
                        facts=(("deadline", f"{seconds:g}s"),))
        return Verdict(Action.TEMPFAIL, (result,), reply=DEFAULT_REPLIES[Action.TEMPFAIL])

    def _finish(self, message: Message, verdict: Verdict, started: float) -> None:
        """Record, count and log what Postfix is about to be told. From any thread: the
        store's add() only queues the record (no hop to the loop per message)."""
        self.metrics.observe(message, verdict, time.monotonic() - started)
        self.store.add(record_from(message, verdict, self.hasher, self.clock()))
        log.info(message_line(message, verdict))  # no arguments: the line is not %-formatted again
        if verdict.action is Action.QUARANTINE and self.on_held is not None:
            self.on_held(message, verdict)

    # --- policy reload -------------------------------------------------------------------

    def reload(self, reason: str) -> bool:
        """Load the policy file again; keep the running policy if the file is invalid.

        Reads the file in the calling thread: the daemon calls it from its SIGUSR1 thread and
        the watcher through asyncio.to_thread, never on the loop. Reloads are serialised."""
        if self.policy_path is None:
            return False
        with self._reload_lock:
            self._policy_stamp = self._stamp()
            try:
                new = load_with(self.policy_path, self.overrides, FILTERS)
            except PolicyError as exc:
                log.error("policy reload (%s) refused, the running policy stays: %s", reason, exc)
                self.metrics.reloaded(False)
                self._note("reload_refused")
                return False
            new = self._keep_restart_only(new)
            self.snapshot = Snapshot(new, build_pipeline(new, self.services))  # one assignment: old or new
            logging.getLogger().setLevel(new.log.level.upper())
            log.info("policy reloaded (%s) from %s", reason, self.policy_path)
            self.metrics.reloaded(True)
            self._note("reload_ok")
            return True

    def _keep_restart_only(self, new: Policy) -> Policy:
        """The running values of what only a restart applies (RESTART_ONLY, and `[log] file`:
        its handler is opened at start), with one line naming everything that changed."""
        changed = []
        for section in RESTART_ONLY:
            if getattr(new, section) != getattr(self.policy, section):
                changed.append(f"[{section}]")
                new = dataclasses.replace(new, **{section: getattr(self.policy, section)})
        if new.log.file != self.policy.log.file:
            changed.append("[log] file")
            new = dataclasses.replace(new, log=dataclasses.replace(new.log, file=self.policy.log.file))
        if changed:
            log.warning("policy reload: %s changed; %s effect at the next restart (systemctl restart "
                        "privacy-milter); the rest of the policy applies now",
                        ", ".join(changed), "it takes" if len(changed) == 1 else "they take")
        return new

    def _stamp(self) -> tuple[int, int] | None:
        if self.policy_path is None:
            return None
        try:
            st = os.stat(self.policy_path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    async def _watch_policy(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            stamp = await asyncio.to_thread(self._stamp)
            if stamp is not None and stamp != self._policy_stamp:
                await asyncio.to_thread(self.reload, "file changed")

    # --- retention -----------------------------------------------------------------------

    async def purge(self) -> int:
        """The retention purge. On a store several hosts share, one host purges per day:
        the first to claim the day (a retry of a claimed purge goes ahead)."""
        now = self.clock()
        if self.store.shared:
            day = time.strftime("%Y-%m-%d", time.gmtime(now))
            if self._purge_claimed != day:
                if not await self.store.claim_run("purge", day):
                    log.info("retention: another host purges the shared store today (%s)", day)
                    return 0
                self._purge_claimed = day
        cutoff = now - self.policy.store.retention_days * DAY
        removed = await self.store.purge(cutoff)
        log.info("retention: removed %d record(s) older than %d days", removed,
                 self.policy.store.retention_days)
        note = getattr(self.store, "note", None)
        if note is not None:
            await note("purge", removed)
        return removed
