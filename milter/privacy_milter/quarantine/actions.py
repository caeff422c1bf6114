"""Release, delete and expire held mail: one at a time (a lock file), each recorded in the
store and logged with the queue id.

Safety rules:
- A held message that carries DLP findings is released only if its queue file records the
  encrypt-only route (content_filter = [quarantine] encrypt_transport:...): milter_header_checks
  set it at cleanup, and `postsuper -H` keeps it, so it still leaves over TLS or not at all
  (tests/integration/test_quarantine_postfix.py proves both). Without that record, or
  without a record of why it was held, release is refused: it might leave in clear text.
- Every action re-reads the queue under the lock, so a release and an expiry racing for
  the same message cannot both act, and `postsuper -d ID hold` never deletes a message that
  has just left the hold queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import PrivacyMilterError
from ..store.backend import Backend, StoredRecord
from . import events
from .held import Held, iso, join, mine
from .postfix import PostfixQueue, check_queue_id
from .settings import QuarantineSettings

log = logging.getLogger("privacy_milter.quarantine")
LOCK_TIMEOUT = 30.0
LOCAL_ONLY = "local-only"  # the tls filter's flagged_route when no recipient is remote


class QuarantineError(PrivacyMilterError):
    """An action the admin asked for was not done; the text says why and what to do."""


@dataclass
class Quarantine:
    queue: PostfixQueue
    backend: Backend
    settings: QuarantineSettings
    host: str
    lock_path: Path
    clock: Callable[[], float] = time.time

    async def held(self) -> list[Held]:
        entries = await asyncio.to_thread(self.queue.held)
        records = await events.records_for(self.backend, [e.queue_id for e in entries])
        return join(entries, records, self.host, self.clock(), self.settings.keep_days)

    async def get(self, queue_id: str) -> Held:
        """The held message, or QuarantineError saying where it is instead."""
        check_queue_id(queue_id)
        entry = await asyncio.to_thread(self.queue.find, queue_id)
        records = await events.records_for(self.backend, [queue_id])
        if entry is not None and entry.queue_name == "hold":
            return join([entry], records, self.host, self.clock(), self.settings.keep_days)[0]
        raise QuarantineError(await self._not_held(queue_id, entry.queue_name if entry else None,
                                                   records.get(queue_id, [])))

    async def _not_held(self, queue_id: str, queue_name: str | None, records: list[StoredRecord]) -> str:
        if queue_name is not None:
            return (f"{queue_id} is not on hold: it is in Postfix's {queue_name} queue "
                    "(released already, or never held); nothing was done")
        past = [e for e in await events.of_queue_id(self.backend, queue_id) if e.event != "notice"]
        if past:
            last = past[-1]
            return (f"{queue_id} is no longer held: {last.event}d on {iso(last.time)} on {last.host} "
                    f"({last.reason}); nothing was done")
        if records and mine(records, self.host) is None:
            hosts = ", ".join(sorted({r.host for r in records}))
            return (f"{queue_id} is not in this host's Postfix queue ({self.host}, {self.queue.config}); "
                    f"privacy-milter recorded it on {hosts}: run the command there")
        if records:
            return (f"{queue_id} is no longer in Postfix's queue on {self.host} (delivered, or deleted outside "
                    f"privacy-milter; or held by another Postfix instance than {self.queue.config}: "
                    "[quarantine] postfix_config or $MAIL_CONFIG names it); nothing was done")
        return (f"{queue_id} is not in Postfix's queue ({self.queue.config}) and privacy-milter has no "
                "record of it: check the id with `privacy-milter quarantine list`")

    async def release(self, queue_id: str, reason: str) -> str:
        async with self._locked():
            held = await self.get(queue_id)
            await self._check_safe(held)
            if not await asyncio.to_thread(self.queue.release, queue_id):
                raise QuarantineError(f"{queue_id}: Postfix released nothing (it left the hold queue "
                                      "meanwhile); nothing was recorded")
            await self._record(held, "release", reason)
            await asyncio.to_thread(self.queue.deliver_now, queue_id)
        route = " through the encrypt-only route" if held.flagged else ""
        return f"{queue_id}: released{route}; Postfix delivers it now"

    async def _check_safe(self, held: Held) -> None:
        if held.record is None:
            raise QuarantineError(
                f"{held.queue_id}: not released: privacy-milter has no record of why it is held, so it cannot "
                "tell whether it may leave in clear text. If it was held by another rule and you are sure, "
                f"release it with postsuper -c {self.queue.config} -H {held.queue_id}")
        if not held.flagged or held.record.facts.get("flagged_route") == LOCAL_ONLY:
            return  # nothing flagged, or every recipient is a local mailbox: it never leaves
        route = await asyncio.to_thread(self.queue.content_filter, held.queue_id)
        if route is None or route.split(":", 1)[0] != self.settings.encrypt_transport:
            raise QuarantineError(
                f"{held.queue_id}: not released: it carries {', '.join(held.categories) or 'flagged content'} "
                f"and its queue file has no encrypt-only route ({self.settings.encrypt_transport}; "
                f"found: {route or 'none'}), so it could leave in clear text. Delete it "
                f"(privacy-milter quarantine delete {held.queue_id}) and ask the sender to share it securely")

    async def delete(self, queue_id: str, reason: str, *, event: str = "delete") -> str:
        async with self._locked():
            held = await self.get(queue_id)
            await self._delete(held, reason, event)
        return f"{queue_id}: deleted from the hold queue"

    async def _delete(self, held: Held, reason: str, event: str) -> None:
        if not await asyncio.to_thread(self.queue.delete, held.queue_id):
            raise QuarantineError(f"{held.queue_id}: Postfix deleted nothing (it left the hold queue "
                                  "meanwhile); nothing was recorded")
        await self._record(held, event, reason)

    async def expire(self) -> list[str]:
        """Delete every held message older than keep_days; the queue ids deleted."""
        done: list[str] = []
        async with self._locked():
            for held in await self.held():
                if not held.expired:
                    continue
                try:
                    await self._delete(held, f"keep_days = {self.settings.keep_days}", "expire")
                except QuarantineError as exc:  # released meanwhile: not an error of the job
                    log.info("%s", exc)
                    continue
                done.append(held.queue_id)
        return done

    async def _record(self, held: Held, event: str, reason: str) -> None:
        reason = events.clean_reason(reason) or "no reason given"
        # The action happened: log it before the store is asked, so a store outage cannot hide it.
        log.info("%s: quarantine %s (held since %s, %s) by %s: %s", held.queue_id, event,
                 iso(held.entry.arrival_time), ",".join(held.categories) or held.why()["action"],
                 _who(), reason)
        await events.record(self.backend, events.QuarantineEvent(
            self.clock(), self.host, held.queue_id, event, reason, held.entry.arrival_time))

    @contextlib.asynccontextmanager
    async def _locked(self) -> AsyncIterator[None]:
        """One quarantine action at a time on this host (the admin's command, the timer's expiry)."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            deadline = time.monotonic() + LOCK_TIMEOUT
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise QuarantineError(f"another quarantine command holds {self.lock_path} "
                                              f"for over {LOCK_TIMEOUT:g}s; try again") from None
                    await asyncio.sleep(0.05)
            yield
        finally:
            os.close(fd)  # closing releases the lock


def _who() -> str:
    """The admin who ran the command (sudo's user, else the login user)."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER") or os.environ.get("LOGNAME") or f"uid {os.getuid()}"
