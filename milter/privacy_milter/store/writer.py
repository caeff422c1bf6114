"""The one buffered writer in front of every backend: batching, a bounded backlog, the flush
loop, retries with backoff, health, and a clean close.

`add` is safe from any thread (libmilter's included) and never blocks on the database: a
record goes into a lock-protected deque and the flush loop on the event loop picks it up;
the loop is woken only when a full batch waits, never per record. `setup` (the CLI) fails if
the store cannot be opened; `start` (the daemon) does not: records are kept (up to
MAX_PENDING) and opening, like a failed write, is retried with backoff. A failure is logged
when it starts and when it ends, not per try. The one refusal at start is an address key
that does not match the store's (subject-access requests would silently miss records).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ..errors import StoreError
from .backend import Backend, KeyMismatchError, Stats, StoredRecord
from .base import Record
from .health import HEARTBEAT, Health

log = logging.getLogger("privacy_milter.store")

# Past this many unwritten records (the disk is full, the database down), new ones are
# counted and dropped rather than letting memory grow without bound; the count is logged.
MAX_PENDING = 100_000
RETRY_FIRST = 1.0   # seconds before retrying a failed write or open; doubled per failure
RETRY_MAX = 30.0
CLOSE_TIMEOUT = 30.0


class BufferedWriter:
    def __init__(self, backend: Backend, *, batch_size: int = 500, flush_interval: float = 0.2,
                 key_fingerprint: str | None = None, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.batch_size = max(1, batch_size)
        self.flush_interval = flush_interval
        self.key_fingerprint = key_fingerprint
        self.clock = clock
        self.health = Health(pid=os.getpid())
        self._pending: deque[Record] = deque()
        self._pending_lock = threading.Lock()     # add() runs in libmilter threads
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()               # one database operation at a time
        self._notes: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._reports = False          # only the daemon's writer keeps the health row
        self._health_written = 0.0     # monotonic time of the last health write
        self._backoff = 0.0
        self._retry_at = 0.0           # monotonic: no write or open is tried before this
        self._dropped_in_episode = 0

    @property
    def shared(self) -> bool:
        """Several hosts write to this store: once-per-period jobs must claim their period."""
        return self.backend.shared

    @property
    def host(self) -> str:
        return self.backend.host

    @property
    def pending(self) -> int:
        """Records added and not yet written (the metrics' backlog gauge reads it per scrape)."""
        return len(self._pending)

    @property
    def path(self) -> Path | None:
        """The file of a file-based backend (SQLite), else None."""
        path = getattr(self.backend, "path", None)
        return path if isinstance(path, Path) else None

    # --- start-up --------------------------------------------------------------------

    async def setup(self) -> None:
        """For the CLI: open now, or raise StoreError."""
        await self._open()
        self._start_loop()

    async def start(self) -> None:
        """For the daemon: never fails for a store that cannot open yet (it is retried)."""
        self._reports = True
        try:
            await self._open()
        except KeyMismatchError as exc:
            raise StoreError(str(exc)) from None
        except StoreError as exc:
            self._failed(str(exc))
        self._start_loop()

    def _start_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._task = asyncio.create_task(self._flush_loop(), name="store-flush")

    async def _open(self) -> None:
        await self.backend.open(self.key_fingerprint, daemon=self._reports)
        if self._reports:  # stats can tell at once that a daemon writes here
            await self.backend.write_health(self._health_now())
        self._health_written = time.monotonic()

    # --- the hot path ----------------------------------------------------------------

    def add(self, record: Record) -> None:
        """From any thread; never blocks on the database, never raises."""
        with self._pending_lock:
            if len(self._pending) >= MAX_PENDING:
                first = not self._dropped_in_episode
                self._dropped_in_episode += 1
                self.health.dropped += 1
                full = False
            else:
                first = False
                self._pending.append(record)
                full = len(self._pending) % self.batch_size == 0
        if first:
            log.error("store: %d records wait to be written: new records are dropped (and counted) "
                      "until the store works again", MAX_PENDING)
        if full and self._loop is not None:
            if threading.get_ident() == self._loop_thread:
                self._wake.set()
            else:  # once per batch, not per record
                self._loop.call_soon_threadsafe(self._wake.set)

    # --- the flush loop --------------------------------------------------------------

    def _failed(self, error: str) -> None:
        """A write or open failed: keep everything, back off, log only the start of a failure."""
        self.health.last_error, self.health.last_error_time = error, self.clock()
        self.health.failures += 1
        self.health.pending = len(self._pending)
        self._backoff = min(RETRY_MAX, self._backoff * 2) if self._backoff else RETRY_FIRST
        self._retry_at = time.monotonic() + self._backoff
        if self.health.failing_since is not None:
            log.debug("store: still failing (%s); next try in %gs", error, self._backoff)
        else:
            self.health.failing_since = self.health.last_error_time
            log.error("%s; records are kept in memory (up to %d) and written once the store works "
                      "again; retrying with backoff up to %gs", error, MAX_PENDING, RETRY_MAX)

    def _recovered(self, written: int) -> None:
        if self.health.failing_since is not None:
            self._spawn_note("store_failure")
            log.warning("store: writing again after %.0fs of failure: %d record(s) written, %d dropped, "
                        "%d still pending", self.clock() - self.health.failing_since, written,
                        self._dropped_in_episode, len(self._pending))
            self.health.failing_since = None
            self._dropped_in_episode = 0
        self._backoff = 0.0
        self._retry_at = 0.0

    async def _flush_loop(self) -> None:
        while not self._closing:
            try:
                async with asyncio.timeout(self.flush_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            if time.monotonic() < self._retry_at:
                continue
            try:
                await self.flush()
            except StoreError as exc:
                self._failed(str(exc))
            except Exception as exc:  # never let the writer die: records would pile up unwritten
                log.exception("store: unexpected error while writing")
                self._failed(f"store write failed: {type(exc).__name__}")

    async def flush(self) -> None:
        """Write everything pending, a batch (one transaction) at a time. A failed or
        cancelled batch goes back to the front of the queue: nothing lost, nothing twice."""
        async with self._lock:
            heartbeat = self._reports and time.monotonic() - self._health_written >= HEARTBEAT
            if not self._pending and not heartbeat:
                return
            if not self.backend.is_open:
                try:
                    await self._open()
                except KeyMismatchError as exc:
                    raise StoreError(str(exc)) from None
            written = 0
            while True:
                with self._pending_lock:
                    batch = [self._pending.popleft() for _ in range(min(self.batch_size, len(self._pending)))]
                    remaining = len(self._pending)
                if not batch and (written or not heartbeat):
                    break
                try:
                    await self.backend.write_batch(batch, self._health_after(batch, remaining))
                except BaseException:
                    with self._pending_lock:
                        self._pending.extendleft(reversed(batch))
                    raise
                if self._reports:
                    self._health_written = time.monotonic()
                written += len(batch)
                self.health.written += len(batch)
                self.health.pending = remaining
                if batch:
                    self.health.last_write = self.clock()
                if not batch:
                    break
            self._recovered(written)

    def _health_after(self, batch: list[Record], remaining: int) -> Health | None:
        if not self._reports:
            return None
        return replace(self.health, pending=remaining, written=self.health.written + len(batch),
                       last_write=self.clock() if batch else self.health.last_write, failing_since=None)

    def _health_now(self) -> Health:
        return replace(self.health, pending=len(self._pending))

    # --- queries (each after a flush, so they see what was added before) -------------

    async def _ready(self, what: str) -> None:
        if not self.backend.is_open:  # failing since start-up: the writer retries; not out of turn
            raise StoreError(f"the store is not open (see the error logged when it failed); {what} postponed")

    async def purge(self, before: float) -> int:
        await self._ready("purge")
        await self.flush()
        async with self._lock:
            return await self.backend.purge(before)

    async def stats(self, since: float | None = None) -> Stats:
        await self.flush()
        async with self._lock:
            await self._ready("stats")
            return await self.backend.stats(since)

    async def find_address(self, address_hash: str) -> list[StoredRecord]:
        await self.flush()
        async with self._lock:
            await self._ready("subject export")
            return await self.backend.find_address(address_hash)

    async def forget_address(self, address_hash: str) -> int:
        await self.flush()
        async with self._lock:
            await self._ready("subject delete")
            return await self.backend.forget_address(address_hash)

    # --- the scheduler's RunLog, and claims for once-per-cluster jobs ----------------

    async def last_run(self, job: str) -> str | None:
        async with self._lock:
            await self._ready("job run lookup")
            return await self.backend.last_run(job)

    async def record_run(self, job: str, period: str, when: float) -> None:
        async with self._lock:
            await self._ready("job run record")
            await self.backend.record_run(job, period, when)

    def _spawn_note(self, kind: str, count: int = 1) -> None:
        """note() from inside the writer (which may hold the lock): as a task of its own."""
        if self._loop is not None and not self._loop.is_closed():
            task = self._loop.create_task(self.note(kind, count))
            self._notes.add(task)
            task.add_done_callback(self._notes.discard)

    def note_threadsafe(self, kind: str, count: int = 1) -> None:
        """note() from any thread (the policy reload runs off the loop)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._spawn_note, kind, count)

    async def note(self, kind: str, count: int = 1) -> None:
        """Record a daemon event for the summary; never raises (a lost note costs one figure)."""
        try:
            async with self._lock:
                await self._ready("event")
                await self.backend.record_event(kind, count, self.clock())
        except Exception as exc:
            log.debug("store: event %s not recorded (%s)", kind, exc)

    async def claim_run(self, job: str, period: str, host: str | None = None) -> bool:
        """True for exactly one host per (job, period) among all that share this store."""
        async with self._lock:
            await self._ready("job claim")
            return await self.backend.claim_run(job, period, host or self.host, self.clock())

    # --- shutdown --------------------------------------------------------------------

    async def close(self) -> None:
        if self._task is not None:
            # Let a write in progress finish rather than cancel it half-way.
            self._closing = True
            self._wake.set()
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT):
                    await self._task
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()
            self._task = None
        if self.backend.is_open or self._pending:
            try:
                await self.flush()  # a store that failed until now gets one last try
            except StoreError as exc:
                log.error("%s; %d record(s) could not be written at shutdown", exc, len(self._pending))
        await self.backend.close()
