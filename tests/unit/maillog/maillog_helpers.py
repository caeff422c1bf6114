"""Shared bits for the delivery-log reader tests: the recorded Postfix 3.7 log, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from privacy_milter.maillog.follow import LogFollower, PositionStore

DATA = Path(__file__).parent / "data"
RECORDED = (DATA / "postfix37-maillog_file.log").read_bytes()
SMTP_ONLY = b"".join(l for l in RECORDED.splitlines(keepends=True) if b"/smtp[" in l)
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def follower(path: Path, store: PositionStore, **kw) -> LogFollower:
    return LogFollower(path, store, tz=UTC, now=lambda: NOW, **kw)


def rows(deliveries) -> list[tuple]:
    return [(d.queue_id, d.rcpt_domain, d.tls_level, d.status, d.reason) for d in deliveries]
