"""The store's own health, as the running daemon sees it, written where `stats` can read it.

The daemon knows its backlog; `privacy-milter stats` only reads the database. So the daemon
keeps one row per host (`store_health`) up to date: in the same transaction as each batch it writes,
and at least every HEARTBEAT seconds while idle. While writes fail the row cannot be updated
either; `stats` then sees a report older than STALE_AFTER and says so, next to the last
error the daemon could record. Only counts, times and SQLite's error text: no message data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

HEARTBEAT = 10.0     # seconds between health writes when no batch carries one
STALE_AFTER = 30.0   # a report older than this: the daemon is stopped, or cannot write

@dataclass
class Health:
    """Counters since the daemon started. `failing_since` is set while writes (or opening) fail."""

    pid: int = 0
    pending: int = 0
    written: int = 0
    dropped: int = 0
    failures: int = 0         # failed write or open attempts (metrics; not in the health row)
    last_write: float | None = None
    failing_since: float | None = None
    last_error: str = ""
    last_error_time: float | None = None

    def row(self, now: float, host: str) -> tuple[Any, ...]:
        """In schema.HEALTH_COLUMNS order."""
        return (now, self.pid, self.pending, self.written, self.dropped, self.last_write,
                self.failing_since, self.last_error, self.last_error_time, host)


def describe(health: Any, now: float | None = None) -> str:
    """`health`: a backend.HealthReport (or a dict with the same keys)."""
    """One line for `privacy-milter stats`."""
    if not health:
        return "store: no health report yet (the daemon has not written to this store)"
    now = time.time() if now is None else now
    age = max(0.0, now - health["updated"])
    pending = f"{health['pending']:,} pending"
    if health.get("failing_since") is not None:
        line = (f"store: WRITE FAILING since {_when(health['failing_since'])} "
                f"({health['last_error'] or 'unknown error'}), {pending}")
    else:
        last = health.get("last_write")
        line = f"store: {pending}, last write {_ago(now - last)}" if last else f"store: {pending}, no write yet"
    if health.get("dropped"):
        line += f", {health['dropped']:,} dropped (backlog full)"
    if age > STALE_AFTER:
        line += (f"; report {_ago(age)}: the daemon is stopped or cannot write "
                 f"(last error: {health['last_error'] or 'none'})")
    return line


def _ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))
