"""The SQL seam of the weekly report: a `Query` with a `dialect` and one method,
`fetch(sql, params)`, with `?` parameters (the dialect maps them for PostgreSQL's `$1`);
the two things SQLite and PostgreSQL write differently (a key of the JSON facts column,
expanding the findings array); and the week as UTC instants of local midnights (`Window`),
computed with zoneinfo so that time zones never reach SQL. queries.py computes the figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time as dtime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Dialect:
    name: str

    def fact(self, key: str) -> str:
        """SQL text of one key of `m.facts` (a JSON object of strings). Keys are constants."""
        if not re.fullmatch(r"[a-z_]+", key):
            raise ValueError(f"not a fact name: {key!r}")
        if self.name == "postgresql":
            return f"(m.facts::jsonb ->> '{key}')"
        return f"json_extract(m.facts, '$.{key}')"

    def findings(self) -> tuple[str, str]:
        """A FROM item expanding `m.findings` ([[category, confidence, count], ...]) to one row
        per finding, and the SQL text of its category."""
        if self.name == "postgresql":
            return "jsonb_array_elements(m.findings::jsonb) AS f(value)", "(f.value ->> 0)"
        return "json_each(m.findings) AS f", "json_extract(f.value, '$[0]')"

    def sql(self, text: str) -> str:
        if self.name != "postgresql":
            return text
        n = iter(range(1, 10_000))
        return re.sub(r"\?", lambda _: f"${next(n)}", text)


SQLITE = Dialect("sqlite")
POSTGRESQL = Dialect("postgresql")


class Query(Protocol):
    dialect: Dialect

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]: ...


class SqliteQuery:
    """Over an aiosqlite connection (tests, the CLI, the daemon until the store has its own)."""

    dialect = SQLITE

    def __init__(self, db: Any) -> None:
        self.db = db

    async def fetch(self, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        async with self.db.execute(sql, params) as cursor:
            return [tuple(row) for row in await cursor.fetchall()]


# --- the calendar ---------------------------------------------------------------------------

def week_start(iso_week: str) -> date:
    """The Monday of "2026-W48". Raises ValueError for anything else."""
    m = re.fullmatch(r"(\d{4})-W(\d{2})", iso_week.strip())
    if not m:
        raise ValueError(f"{iso_week!r} is not an ISO week such as 2026-W48")
    return date.fromisocalendar(int(m[1]), int(m[2]), 1)


def iso_week_of(when: datetime, tz: ZoneInfo) -> str:
    year, week, _ = when.astimezone(tz).isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(iso_week: str) -> str:
    y, w, _ = (week_start(iso_week) - timedelta(days=7)).isocalendar()
    return f"{y}-W{w:02d}"


def midnights(iso_week: str, tz: ZoneInfo) -> list[datetime]:
    """The eight local midnights that bound the week's seven days, as aware local datetimes."""
    monday = week_start(iso_week)
    return [datetime.combine(monday + timedelta(days=i), dtime(0), tzinfo=tz) for i in range(8)]


@dataclass(frozen=True)
class Window:
    start: float
    end: float
    days: tuple[float, ...]        # the eight bounds, Unix times

    @classmethod
    def of(cls, iso_week: str, tz: ZoneInfo) -> "Window":
        bounds = tuple(m.timestamp() for m in midnights(iso_week, tz))
        return cls(bounds[0], bounds[-1], bounds)

    def day_case(self, column: str) -> tuple[str, tuple[float, ...]]:
        """A CASE giving the day index (0-6) of `column`, for rows already inside the week."""
        inner = self.days[1:-1]
        return ("CASE " + " ".join(f"WHEN {column} < ? THEN {i}" for i in range(len(inner)))
                + f" ELSE {len(inner)} END", inner)


# --- filters shared by the queries --------------------------------------------------------------

