"""The daemon's state on the event loop: policy in force, pipeline, store, scheduled jobs.

`process` is the one entry point for a finished message. Policy and pipeline live in one
Snapshot that reload replaces with a single assignment, so a message (read from a libmilter
thread) always sees one consistent pair; an invalid policy file is refused and the running
one stays.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from . import direction
from .errors import PolicyError
from .logline import message_line
from .model import Message, Verdict
from .pipeline import Pipeline, Services
from .policy import Overrides, Policy, load_with
from .registry import build_pipeline
from .store import AddressHasher, Store, open_store, record_from
from .store.policycache import SqlitePolicyCache
from .tlspolicy.service import TlsPolicyService
from .tlspolicy.model import TlsPolicyError

log = logging.getLogger("privacy_milter")

DAY = 86400.0
WATCH_INTERVAL = 2.0


@dataclasses.dataclass(frozen=True)
class Snapshot:
    policy: Policy
    pipeline: Pipeline


class Runtime:
    def __init__(self, policy: Policy, store: Store, hasher: AddressHasher, *,
                 policy_path: Path | None = None, overrides: Overrides = Overrides(),
                 tls_service: TlsPolicyService | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.snapshot = Snapshot(policy, build_pipeline(policy))
        self.tls_service = tls_service
        self.services = Services(tls_classifier=tls_service)
        self.store = store
        self.hasher = hasher
        self.policy_path = policy_path
        self.overrides = overrides
        self.clock = clock
        self._tasks: list[asyncio.Task[None]] = []
        self._policy_stamp = self._stamp()

    @classmethod
    async def start(cls, policy: Policy, *, policy_path: Path | None = None,
                    overrides: Overrides = Overrides(), watch: bool = True) -> "Runtime":
        # The address key must be readable (or creatable): without it no record can be made,
        # and raw addresses are never kept instead, so a missing key refuses to start. The
        # database may be broken: the store then keeps records in memory (bounded) and keeps
        # trying, and mail flows (see docs/ARCHITECTURE.md, Failure behaviour).
        hasher = AddressHasher.from_file(policy.store.key_file)
        store = open_store(policy.store)
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
        runtime._tasks.append(asyncio.create_task(runtime._purge_daily(), name="purge"))
        if watch and policy_path is not None:
            runtime._tasks.append(asyncio.create_task(runtime._watch_policy(), name="policy-watch"))
        return runtime

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.tls_service is not None:
            await self.tls_service.stop()
        await self.store.close()

    @property
    def policy(self) -> Policy:
        return self.snapshot.policy

    @property
    def pipeline(self) -> Pipeline:
        return self.snapshot.pipeline

    def prepare(self, message: Message) -> Snapshot:
        """In the SMTP connection's thread: decide the direction and run the filters' CPU-bound
        `prepare` hooks. Returns the policy and pipeline this message is judged by."""
        snapshot = self.snapshot  # one read: one consistent pair for this message
        message.direction = direction.decide(message.session, message.recipients, snapshot.policy.network)
        snapshot.pipeline.prepare(message, snapshot.policy)
        return snapshot

    @property
    def deadline(self) -> float:
        return self.policy.milter.deadline

    async def process(self, message: Message, snapshot: Snapshot | None = None) -> Verdict:
        """On the loop: run the filters, record metadata, log one line."""
        if snapshot is None:
            snapshot = self.prepare(message)
        verdict = await snapshot.pipeline.run(message, snapshot.policy, self.services)
        self.store.add(record_from(message, verdict, self.hasher, self.clock()))
        log.info("%s", message_line(message, verdict))
        return verdict

    # --- policy reload -------------------------------------------------------------------

    def reload(self, reason: str) -> bool:
        """Load the policy file again; keep the running policy if the file is invalid."""
        if self.policy_path is None:
            return False
        self._policy_stamp = self._stamp()
        try:
            new = load_with(self.policy_path, self.overrides)
        except PolicyError as exc:
            log.error("policy reload (%s) refused, the running policy stays: %s", reason, exc)
            return False
        for section in ("milter", "store", "tls_policy"):
            if getattr(new, section) != getattr(self.policy, section):
                log.warning("policy reload: [%s] changed; it takes effect at the next restart", section)
                new = dataclasses.replace(new, **{section: getattr(self.policy, section)})
        self.snapshot = Snapshot(new, build_pipeline(new))
        logging.getLogger().setLevel(new.log.level.upper())
        log.info("policy reloaded (%s) from %s", reason, self.policy_path)
        return True

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
            stamp = self._stamp()
            if stamp is not None and stamp != self._policy_stamp:
                self.reload("file changed")

    # --- retention -----------------------------------------------------------------------

    async def purge(self) -> int:
        cutoff = self.clock() - self.policy.store.retention_days * DAY
        removed = await self.store.purge(cutoff)
        log.info("retention: removed %d record(s) older than %d days", removed,
                 self.policy.store.retention_days)
        return removed

    async def _purge_daily(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception as exc:  # a failed purge is retried tomorrow; the daemon keeps serving
                log.error("retention purge failed: %s", exc)
            await asyncio.sleep(DAY)
