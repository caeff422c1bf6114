"""Writing what receivers report back (TLS-RPT, DMARC aggregate) into the store's
report_tls / report_dmarc tables (migration 6), one report per transaction.

Reports arrive a few a day, so each write opens its own short connection (as the summary's
delivery-log writes do) instead of going through the message writer's batches. A report
sent twice (same reporter, report id and authentication) replaces the first copy: the
figures count it once. An unauthenticated report can never replace an authenticated one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import aiosqlite

from ..policy import StoreSettings
from ..services import ReportRows, ReportStoreError

TLS_COLUMNS = ("time", "host", "reporter", "report_id", "authenticated", "begin_time", "end_time",
               "policy_type", "policy_domain", "successful", "failed", "failures")
DMARC_COLUMNS = ("time", "host", "reporter", "report_id", "authenticated", "begin_time", "end_time",
                 "policy_domain", "policy", "source_ip", "header_from", "count", "dkim", "spf", "disposition")
TABLES = {"tlsrpt": ("report_tls", TLS_COLUMNS), "dmarc": ("report_dmarc", DMARC_COLUMNS)}


def _sql(kind: str) -> tuple[str, str]:
    table, columns = TABLES[kind]
    delete = f"DELETE FROM {table} WHERE reporter = ? AND report_id = ? AND authenticated = ?"
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    return delete, insert


async def write_report(settings: StoreSettings, report: ReportRows) -> None:
    """The report's rows in one transaction; ReportStoreError when the store cannot take them."""
    delete, insert = _sql(report.kind)
    key = (report.reporter, report.report_id, int(report.authenticated))
    if settings.backend == "postgresql":
        await _write_pg(settings, delete, insert, key, report.rows)
        return
    try:
        async with aiosqlite.connect(settings.path, timeout=30.0) as db:
            await db.execute("BEGIN IMMEDIATE")
            await db.execute(delete, key)
            await db.executemany(insert, report.rows)
            await db.commit()
    except Exception as exc:  # sqlite3.Error, OSError: the caller logs it; the mail is not lost
        raise ReportStoreError(f"store write of a {report.kind} report failed: {type(exc).__name__}: {exc}") from None


async def _write_pg(settings: StoreSettings, delete: str, insert: str, key: tuple[Any, ...],
                    rows: Sequence[tuple[Any, ...]]) -> None:
    import psycopg

    from ..summary.pg_source import where

    try:
        conn = await psycopg.AsyncConnection.connect(
            settings.conninfo, autocommit=True, prepare_threshold=None,
            connect_timeout=max(2, math.ceil(settings.connect_timeout)), application_name="privacy-milter-reports")
    except psycopg.Error as exc:
        raise ReportStoreError(f"cannot open the store ({where(settings.conninfo)}) for a report: "
                         f"{type(exc).__name__}") from None
    try:
        async with conn.transaction(), conn.cursor() as cur:
            await cur.execute(delete.replace("?", "%s"), key)
            await cur.executemany(insert.replace("?", "%s"), rows)
    except psycopg.Error as exc:
        raise ReportStoreError(f"store write of a report failed ({where(settings.conninfo)}): "
                         f"{type(exc).__name__}") from None
    finally:
        await conn.close()


class StoreReports:
    """services.ReportStore over the daemon's store settings ([store]: restart-only)."""

    def __init__(self, settings: StoreSettings) -> None:
        self._settings = settings

    async def write(self, report: ReportRows) -> None:
        await write_report(self._settings, report)
