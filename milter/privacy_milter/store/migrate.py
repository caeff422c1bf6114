"""`privacy-milter store migrate --from sqlite:PATH --to postgresql:CONNINFO`: copy a single
host's store into the shared one. Runs again safely: the last copied source id is kept in
the destination's run log, so a second run copies only what is new (an interrupted run
resumes after its last committed batch; the batch in flight at a crash may be copied twice).
The address key fingerprint travels too: a destination made with another key refuses.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from .. import hostname
from ..errors import StoreError
from ..policy import StoreSettings, conninfo_problem
from . import BACKENDS
from . import schema as q
from .backend import Backend, StoredRecord
from .base import Record
from .sqlite import SqliteBackend

BATCH = 1000


def _settings(spec: str, which: str) -> StoreSettings:
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise StoreError(f"--{which} must be sqlite:PATH or postgresql:CONNINFO")
    if kind == "sqlite":
        return StoreSettings(backend="sqlite", path=Path(rest))
    if kind == "postgresql":
        if problem := conninfo_problem(rest):
            raise StoreError(f"--{which} conninfo {problem}")
        return StoreSettings(backend="postgresql", conninfo=rest)
    raise StoreError(f"--{which}: unknown store kind {kind!r} (sqlite or postgresql)")


async def migrate(source_spec: str, dest_spec: str, host: str | None = None) -> int:
    """Copy every record not copied before; return how many were copied now."""
    src_settings = _settings(source_spec, "from")
    if src_settings.backend != "sqlite":
        raise StoreError("--from must be a SQLite store (sqlite:PATH)")
    if not src_settings.path.exists():
        raise StoreError(f"no store at {src_settings.path}")
    source = SqliteBackend(src_settings.path)
    await source.open(None, daemon=False)
    dest: Backend | None = None
    try:
        fingerprint = await source._one(q.GET_META, (q.KEY_NAME,))
        dest_settings = _settings(dest_spec, "to")
        default_host = host or _this_host()
        dest = BACKENDS[dest_settings.backend](dest_settings, default_host)
        await dest.open(fingerprint, daemon=False)
        job = f"store-migrate:{src_settings.path.resolve()}"
        last = int(await dest.last_run(job) or 0)
        copied = 0
        while True:
            batch = await source.records_after(last, BATCH)
            if not batch:
                return copied
            records = [replace(_record(r), host=r.host or default_host) for r in batch]
            await dest.write_batch(records, None)
            last = batch[-1].id
            await dest.record_run(job, str(last), time.time())
            copied += len(records)
    finally:
        await source.close()
        if dest is not None:
            await dest.close()


def _this_host() -> str:
    """The name records without a host are given: this host's (hostname.resolve)."""
    try:
        return hostname.resolve()
    except hostname.HostNameError as exc:
        raise StoreError(f"{exc}; or name it with --host") from None


def _record(r: StoredRecord) -> Record:
    return Record(time=r.time, queue_id=r.queue_id, direction=r.direction, direction_reason=r.direction_reason,
                  client_addr=r.client_addr, sender_domain=r.sender_domain, sender_hash=r.sender_hash,
                  recipients=tuple((x.domain, x.address_hash) for x in r.recipients), size=r.size,
                  tls_version=r.tls_version, tls_cipher=r.tls_cipher, action=r.action,
                  findings=tuple(tuple(f) for f in r.findings),
                  facts=tuple(r.facts.items()), errors=tuple(r.errors), host=r.host)

