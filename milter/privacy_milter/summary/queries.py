"""The weekly report's figures, computed in SQL over the store's tables.

The seam is small (sql.py): a `Query` with a `dialect` and one method, `fetch(sql, params)`,
with `?` parameters (the dialect maps them for PostgreSQL's `$1`). The SQL is portable
between SQLite and PostgreSQL; the two things that differ, reading a key of a JSON column and
expanding the findings array, come from the Dialect. The facts read are the ones filters
declared (facts.py). Time zones never reach SQL: the UTC
instants of the local midnights (week bounds and the seven day buckets) are computed here
with zoneinfo and passed as parameters, so a DST week has days of 23 or 25 hours and is
167 or 169 hours long, and no message falls into the wrong day or week.

Tables: the store's `messages` and `recipients` as they are, and `deliveries`,
`maillog_polls`, `job_runs` (deliveries_schema.py). Only domains, codes and counts leave.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..plugin import FLAGGING_ACTIONS
from .facts import FLAGGED_ACTION, FLAGGED_ROUTE, SPAM, TLS_DECISION, VIRUS
from .sql import (POSTGRESQL as POSTGRESQL, SQLITE as SQLITE, Dialect, Query, SqliteQuery as SqliteQuery,
                  Window, iso_week_of as iso_week_of, midnights as midnights, previous_week as previous_week,
                  week_start as week_start)
from .quarantine import QuarantineWeek, quarantine_week
from .reports_section import read_figures as read_report_figures
from .model import (CategoryAction, ClearHop, Count, CustomerRow, DayShare, FindingsSection,
                    FlaggedClear, Health, HostLine, Retention, ScannerRow, ScannerSection, TlsSection,
                    Totals, WeeklyReport)

IN, OUT = "inbound", "outbound"
VIRUS_NOT_FOUND = ("clean", *sorted(VIRUS.not_examined))  # a virus fact that is not a finding
BREAKER_OPEN = "breaker-open"  # the scanners' fact when the engine was skipped, its breaker open
if BREAKER_OPEN not in VIRUS.not_examined:
    raise LookupError(f"the virus fact no longer declares {BREAKER_OPEN!r}: the summary's scanner errors need it")
MAX_CLEAR_DOMAINS = 50                     # the list to act on: long, but bounded
QUEUE_SLACK = 7 * 86400.0                  # a delivery may leave up to a week after it was queued
CLOCK_SKEW = 300.0                         # a record's time may trail its delivery's (another host's clock)
# A finding acted on and the message still sent (or released): the actions that flag it.
FLAGGED_ACTIONS = tuple(sorted(a.label for a in FLAGGING_ACTIONS))
# What the store does not record yet: the report says so instead of showing a silent 0.
NOT_RECORDED = ("scanner time-outs (counted with errors)",)
READER_IDLE = ("outbound deliveries (the delivery-log reader did not run this week: set [summary] maillog "
               "to the file Postfix logs to)")


def _msg_scope(scope: str | None) -> tuple[str, tuple[Any, ...]]:
    if scope is None:
        return "", ()
    return (" AND ((m.direction = 'outbound' AND m.sender_domain = ?) OR (m.direction = 'inbound'"
            " AND EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = m.id AND r.domain = ?)))",
            (scope, scope))


def _dlv_scope(scope: str | None, w: Window) -> tuple[str, tuple[Any, ...]]:
    if scope is None:
        return "", ()
    return (" AND d.queue_id IN (SELECT queue_id FROM messages WHERE direction = 'outbound'"
            " AND sender_domain = ? AND time >= ? AND time < ?)", (scope, w.start - QUEUE_SLACK, w.end))


def _in(column: str, values: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """`column IN (?, ...)` and its parameters; a condition that is never true for no values."""
    vals = tuple(sorted(values))
    if not vals:
        return "1 = 0", ()
    return f"{column} IN ({', '.join('?' * len(vals))})", vals


def flagged_sql(dialect: Dialect) -> str:
    """A record `m` of a flagged message: DLP findings acted on (tagged or held, so it may leave),
    or the tls filter's routing fact `flagged_action` for it."""
    acted = ", ".join(f"'{a}'" for a in FLAGGED_ACTIONS)
    fa = dialect.fact(FLAGGED_ACTION.name)
    return f"(({fa} IS NOT NULL AND {fa} <> '') OR (m.findings <> '[]' AND m.action IN ({acted})))"


def _onward(w: Window, hosted: frozenset[str] | None) -> tuple[str, tuple[Any, ...]]:
    """The condition on a delivery `d` that it is outbound: not a copy of an inbound message
    (its queue id is not an inbound record's) relayed onward to a mailbox server, and not to a
    hosted domain. Its negation is the inbound relay. A delivery without a record (Postfix's
    own bounces, mail that bypassed the milter) is classified by its recipient domain alone."""
    sql = ("(d.queue_id NOT IN (SELECT mi.queue_id FROM messages mi WHERE mi.direction = 'inbound'"
           " AND mi.time >= ? AND mi.time < ?)")
    params: tuple[Any, ...] = (w.start - QUEUE_SLACK, w.end)
    if hosted:
        names = tuple(sorted(hosted))
        sql += " AND d.rcpt_domain NOT IN (" + ", ".join("?" * len(names)) + ")"
        sql += "".join(" AND d.rcpt_domain NOT LIKE ? ESCAPE '\\'" for _ in names)  # nor a subdomain
        params += names + tuple("%." + re.sub(r"([\\%_])", r"\\\1", n) for n in names)
    return sql + ")", params


def _int(v: Any) -> int:
    return int(v or 0)


def _counts(rows: Iterable[tuple[Any, ...]]) -> tuple[Count, ...]:
    return tuple(Count(str(k), _int(n)) for k, n in rows)


class ReportQueries:
    """One report's queries: the window, the scope and the Query they run on."""

    def __init__(self, q: Query, w: Window, scope: str | None, tz: ZoneInfo,
                 hosted: frozenset[str] | None = None, relays: frozenset[str] = frozenset()) -> None:
        self.q, self.w, self.scope, self.relays = q, w, scope, relays
        self.local_days: tuple[date, ...] = tuple(
            datetime.fromtimestamp(t, tz).date() for t in w.days[:7])
        self.mscope, self.mparams = _msg_scope(scope)
        self.dscope, self.dparams = _dlv_scope(scope, w)
        self.onward, self.oparams = _onward(w, hosted)

    async def fetch(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return await self.q.fetch(self.q.dialect.sql(sql), tuple(params))

    async def messages(self, select: str, where: str = "", tail: str = "",
                       extra: Sequence[Any] = (), before: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """SELECT over this week's messages `m` (in scope); `before` binds `?` in `select`."""
        sql = f"SELECT {select} FROM messages m WHERE m.time >= ? AND m.time < ?{self.mscope}{where} {tail}"
        return await self.fetch(sql, (*before, self.w.start, self.w.end, *self.mparams, *extra))

    async def deliveries(self, select: str, where: str = "", tail: str = "",
                         before: Sequence[Any] = (), outbound: bool = True,
                         extra: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """SELECT over this week's deliveries `d` (in scope): the outbound ones, or with
        outbound=False the copies of inbound mail relayed onward (see _onward); `extra` binds
        `?` in `where`."""
        onward = f" AND {'' if outbound else 'NOT '}{self.onward}"
        sql = (f"SELECT {select} FROM deliveries d WHERE d.time >= ? AND d.time < ?{self.dscope}{onward}"
               f"{where} {tail}")
        return await self.fetch(sql, (*before, self.w.start, self.w.end, *self.dparams, *self.oparams, *extra))

    # --- sections -------------------------------------------------------------------------------
    async def totals(self) -> Totals:
        (m,) = await self.messages(
            "SUM(CASE WHEN m.direction = 'inbound' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN m.direction = 'inbound' AND m.tls_version <> '' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN m.direction = 'outbound' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN m.findings <> '[]' AND m.action IN ('reject', 'quarantine') THEN 1 ELSE 0 END)")
        (d,) = await self.deliveries(
            "COUNT(*), SUM(CASE WHEN d.tls_level <> 'clear' THEN 1 ELSE 0 END)", " AND d.status = 'sent'")
        return Totals(messages_in=_int(m[0]), encrypted_in=_int(m[1]), messages_out=_int(m[2]),
                      findings_stopped=_int(m[3]), deliveries_out=_int(d[0]), encrypted_out=_int(d[1]))

    async def tls(self) -> TlsSection:
        by_version = await self.messages(
            "CASE WHEN m.tls_version = '' THEN 'none' ELSE m.tls_version END, COUNT(*)",
            " AND m.direction = 'inbound'", "GROUP BY 1 ORDER BY 2 DESC, 1")
        sent = " AND d.status = 'sent'"
        levels = await self.deliveries("d.tls_level, COUNT(*)", sent, "GROUP BY 1 ORDER BY 2 DESC, 1")
        policies = await self.deliveries("d.policy, COUNT(*)", sent, "GROUP BY 1 ORDER BY 2 DESC, 1")
        relay_in, relay_params = _in("d.relay", self.relays)
        clear_sent = sent + " AND d.tls_level = 'clear'"
        top = f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {MAX_CLEAR_DOMAINS}"
        clear = await self.deliveries("d.rcpt_domain, COUNT(*)", f"{clear_sent} AND NOT {relay_in}", top,
                                      extra=relay_params)
        relays = await self.deliveries("d.relay, COUNT(*)", f"{clear_sent} AND {relay_in}", top,
                                       extra=relay_params)
        ((relayed, relayed_clear),) = await self.deliveries(
            "COUNT(*), SUM(CASE WHEN d.tls_level = 'clear' THEN 1 ELSE 0 END)", sent, outbound=False)
        failures = await self.deliveries("d.reason, COUNT(*)", " AND d.status <> 'sent' AND d.reason <> ''",
                                         "GROUP BY 1 ORDER BY 2 DESC, 1")
        flagged, decision = self.q.dialect.fact(FLAGGED_ACTION.name), self.q.dialect.fact(TLS_DECISION.name)
        ((refused, held),) = await self.messages(   # a failed decision is not the recipient's: Health
            f"SUM(CASE WHEN {flagged} = 'reject' THEN 1 ELSE 0 END), "
            f"SUM(CASE WHEN {flagged} = 'quarantine' THEN 1 ELSE 0 END)",
            f" AND ({decision} IS NULL OR {decision} <> 'failed')")
        return TlsSection(inbound_by_version=_counts(by_version), outbound_by_level=_counts(levels),
                          outbound_by_policy=_counts(policies), clear_domains=_counts(clear),
                          clear_relays=_counts(relays), relayed_inbound=_int(relayed),
                          relayed_inbound_clear=_int(relayed_clear),
                          refused_for_tls=_int(refused), held_for_tls=_int(held),
                          failures_by_reason=_counts(failures), by_day=await self.by_day())

    async def by_day(self) -> tuple[DayShare, ...]:
        case, bounds = self.w.day_case("m.time")
        per = {i: [0, 0, 0, 0] for i in range(7)}
        for day, n_in, enc_in in await self.messages(
                f"{case}, COUNT(*), SUM(CASE WHEN m.tls_version <> '' THEN 1 ELSE 0 END)",
                " AND m.direction = 'inbound'", "GROUP BY 1", before=bounds):
            per[int(day)][0:2] = [_int(n_in), _int(enc_in)]
        case, bounds = self.w.day_case("d.time")
        for day, n_out, enc_out in await self.deliveries(
                f"{case}, COUNT(*), SUM(CASE WHEN d.tls_level <> 'clear' THEN 1 ELSE 0 END)",
                " AND d.status = 'sent'", "GROUP BY 1", before=bounds):
            per[int(day)][2:4] = [_int(n_out), _int(enc_out)]
        return tuple(DayShare(self.local_days[i], *per[i]) for i in range(7))

    async def findings(self, top_n: int) -> FindingsSection:
        frm, category = self.q.dialect.findings()
        sql = (f"SELECT {category}, m.action, COUNT(DISTINCT m.id) FROM messages m, {frm} "
               f"WHERE m.time >= ? AND m.time < ?{self.mscope} AND m.findings <> '[]' "
               "GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2")
        rows = await self.fetch(sql, (self.w.start, self.w.end, *self.mparams))
        senders = await self.messages("m.sender_domain, COUNT(*)",
                                      " AND m.direction = 'outbound' AND m.findings <> '[]'",
                                      f"GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(top_n)}")
        return FindingsSection(tuple(CategoryAction(str(c), str(a), _int(n)) for c, a, n in rows),
                               _counts(senders))

    async def scanners(self) -> ScannerSection:
        d = self.q.dialect
        spam, virus = d.fact(SPAM.name), d.fact(VIRUS.name)
        domain = "CASE WHEN m.direction = 'outbound' THEN m.sender_domain ELSE r.domain END"
        join = (f"FROM messages m JOIN recipients r ON r.message_id = m.id "
                f"WHERE m.time >= ? AND m.time < ?{self.mscope}")
        sql = (f"SELECT {domain}, 'spam', CASE WHEN {spam} = 'yes' THEN m.action ELSE 'pass' END, "
               f"COUNT(DISTINCT m.id) {join} AND {spam} IS NOT NULL GROUP BY 1, 2, 3 "
               "UNION ALL "
               f"SELECT {domain}, 'virus', CASE WHEN {virus} = 'clean' THEN 'pass' ELSE m.action END, "
               f"COUNT(DISTINCT m.id) {join} AND {virus} IS NOT NULL AND {virus} NOT IN "
               f"({', '.join(repr(v) for v in sorted(VIRUS.not_examined))}) GROUP BY 1, 2, 3 "
               "ORDER BY 1, 2, 4 DESC, 3")
        params = (self.w.start, self.w.end, *self.mparams) * 2
        rows = await self.fetch(sql, params)
        ((errors,),) = await self.messages(
            f"SUM(CASE WHEN m.errors LIKE '%\"spam\"%' OR m.errors LIKE '%\"virus\"%' "
            f"OR {virus} = '{BREAKER_OPEN}' THEN 1 ELSE 0 END)")
        return ScannerSection(tuple(ScannerRow(str(a), str(b), str(c), _int(n)) for a, b, c, n in rows),
                              errors=_int(errors))

    async def health(self) -> Health:
        ((tempfails, errors),) = await self.messages(
            "SUM(CASE WHEN m.action = 'tempfail' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN m.errors <> '[]' THEN 1 ELSE 0 END)")
        ((unparsed,),) = await self.fetch(
            "SELECT SUM(unparsed) FROM maillog_polls WHERE time >= ? AND time < ?", (self.w.start, self.w.end))
        events = await self.events()
        decision_failed = await self.tls_decision_failed()
        return Health(tempfails=_int(tempfails), filter_errors=_int(errors), unparsed_log_lines=_int(unparsed),
                      tls_decision_failed=sum(c.n for c in decision_failed),
                      tls_decision_failed_by_action=decision_failed,
                      restarts=events.get("start", 0), reloads_ok=events.get("reload_ok", 0),
                      reloads_refused=events.get("reload_refused", 0),
                      store_write_failures=events.get("store_failure", 0))

    async def flagged_clear(self) -> FlaggedClear:
        """Flagged messages with a copy sent without TLS, by any route (direct, the relayhost,
        an inbound relay), paired with their records by queue id: the figure to act on."""
        relay_in, relay_params = _in("d.relay", self.relays)
        join = (f"FROM deliveries d JOIN messages m ON m.queue_id = d.queue_id AND m.time >= ? AND m.time < ? "
                f"AND m.time >= d.time - ? AND m.time <= d.time + ? "
                f"WHERE d.time >= ? AND d.time < ? AND d.status = 'sent' AND d.tls_level = 'clear' "
                f"AND {flagged_sql(self.q.dialect)}")
        window = (self.w.start - QUEUE_SLACK, self.w.end, QUEUE_SLACK, CLOCK_SKEW, self.w.start, self.w.end)
        ((messages, deliveries),) = await self.fetch(f"SELECT COUNT(DISTINCT m.id), COUNT(*) {join}", window)
        rows = await self.fetch(
            f"SELECT d.rcpt_domain, CASE WHEN {relay_in} THEN d.relay ELSE '' END, COUNT(DISTINCT m.id) {join} "
            f"GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT {MAX_CLEAR_DOMAINS}", (*relay_params, *window))
        return FlaggedClear(_int(messages), _int(deliveries),
                            tuple(ClearHop(str(dom), str(relay), _int(n)) for dom, relay, n in rows),
                            unverified=await self.flagged_unverified())

    async def flagged_unverified(self) -> int:
        """Flagged outbound messages passed on for delivery (action tag, not local-only) of which
        the delivery log shows no line at all: no reader, a log read from the wrong place, no
        queue id in the record (the `i` macro), or still queued. Whether they left encrypted is
        not known, so the summary says so instead of counting them as fine."""
        d = self.q.dialect
        route = d.fact(FLAGGED_ROUTE.name)
        rows = await self.messages(
            "COUNT(*)",
            f" AND m.direction = 'outbound' AND m.action = 'tag' AND {flagged_sql(d)}"
            f" AND ({route} IS NULL OR {route} <> 'local-only')"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.queue_id = m.queue_id"
            " AND d.time >= m.time - ? AND d.time < m.time + ?)",
            extra=(CLOCK_SKEW, QUEUE_SLACK))
        return _int(rows[0][0])

    async def tls_decision_failed(self) -> tuple[Count, ...]:
        """Flagged messages whose TLS decision failed (the tls filter's fact tls_decision=failed),
        by the action then applied (flagged_action: encrypt, reject, quarantine, tempfail)."""
        d = self.q.dialect
        action = d.fact(FLAGGED_ACTION.name)
        rows = await self.messages(f"COALESCE({action}, m.action), COUNT(*)",
                                   f" AND {d.fact(TLS_DECISION.name)} = 'failed'", "GROUP BY 1 ORDER BY 2 DESC, 1")
        return _counts(rows)

    async def events(self) -> dict[str, int]:
        """What the daemons recorded about themselves this week (the store's events table)."""
        rows = await self.fetch("SELECT kind, SUM(count) FROM events WHERE time >= ? AND time < ? GROUP BY kind",
                                (self.w.start, self.w.end))
        return {str(kind): _int(n) for kind, n in rows}

    async def reader_ran(self) -> bool:
        """Whether a delivery-log reader polled in this week (each poll writes a row)."""
        ((n,),) = await self.fetch("SELECT COUNT(*) FROM maillog_polls WHERE time >= ? AND time < ?",
                                   (self.w.start, self.w.end))
        return bool(n)

    async def oldest(self) -> float | None:
        ((t,),) = await self.fetch("SELECT MIN(time) FROM messages", ())
        return None if t is None else float(t)

    async def customers(self, top_n: int, hosted: frozenset[str] | None) -> tuple[CustomerRow, ...]:
        d = self.q.dialect
        spam, virus = d.fact(SPAM.name), d.fact(VIRUS.name)
        not_found = ", ".join(f"'{v}'" for v in VIRUS_NOT_FOUND)
        pairs = (f"SELECT m.id AS id, m.sender_domain AS domain FROM messages m "
                 f"WHERE m.time >= ? AND m.time < ?{self.mscope} AND m.direction = 'outbound' "
                 "UNION "
                 f"SELECT m.id AS id, r.domain AS domain FROM messages m JOIN recipients r "
                 f"ON r.message_id = m.id WHERE m.time >= ? AND m.time < ?{self.mscope} "
                 "AND m.direction = 'inbound'")
        sql = ("SELECT p.domain, "
               "SUM(CASE WHEN m.direction = 'inbound' THEN 1 ELSE 0 END), "
               "SUM(CASE WHEN m.direction = 'outbound' THEN 1 ELSE 0 END), "
               "SUM(CASE WHEN m.direction = 'inbound' AND m.tls_version <> '' THEN 1 ELSE 0 END), "
               "SUM(CASE WHEN m.findings <> '[]' THEN 1 ELSE 0 END), "
               f"SUM(CASE WHEN {spam} = 'yes' THEN 1 ELSE 0 END), "
               f"SUM(CASE WHEN {virus} IS NOT NULL AND {virus} NOT IN ({not_found}) THEN 1 ELSE 0 END) "
               f"FROM ({pairs}) p JOIN messages m ON m.id = p.id GROUP BY p.domain "
               "ORDER BY COUNT(*) DESC, p.domain")
        window = (self.w.start, self.w.end, *self.mparams)
        rows = await self.fetch(sql, window * 2)
        if hosted is not None:
            rows = [r for r in rows if str(r[0]) in hosted]
        rows = rows[:max(0, int(top_n))]
        out = await self.fetch(
            "SELECT m.sender_domain, COUNT(*), SUM(CASE WHEN d.tls_level <> 'clear' THEN 1 ELSE 0 END) "
            "FROM deliveries d JOIN messages m ON m.queue_id = d.queue_id AND m.direction = 'outbound' "
            f"AND m.time >= ? AND m.time < ? WHERE d.time >= ? AND d.time < ? AND d.status = 'sent' "
            f"AND {self.onward} GROUP BY 1",
            (self.w.start - QUEUE_SLACK, self.w.end, self.w.start, self.w.end, *self.oparams))
        sent = {str(dom): (_int(n), _int(enc)) for dom, n, enc in out}
        return tuple(CustomerRow(str(dom), _int(i), _int(o), _int(ei), sent.get(str(dom), (0, 0))[1],
                                 _int(f), _int(s), _int(v), deliveries_out=sent.get(str(dom), (0, 0))[0])
                     for dom, i, o, ei, f, s, v in rows)


    async def hosts(self) -> tuple[HostLine, ...]:
        """One line per mail host, from `messages.host` and `deliveries.host` (the host that
        logged it). A log's short name ("mx1") joins the record's full one ("mx1.example.net")
        when that is unambiguous. Shown only when the week has more than one host."""
        per: dict[str, list[int]] = {}
        for host, n, tempfails in await self.messages(
                "m.host, COUNT(*), SUM(CASE WHEN m.action = 'tempfail' THEN 1 ELSE 0 END)", "", "GROUP BY 1"):
            per[str(host or "unknown")] = [_int(n), _int(tempfails), 0]
        for host, n in await self.deliveries("d.host, COUNT(*)", " AND d.status = 'sent'", "GROUP BY 1"):
            name = str(host or "unknown")
            if name not in per:
                full = [h for h in per if h.split(".", 1)[0] == name]
                name = full[0] if len(full) == 1 else name
            per.setdefault(name, [0, 0, 0])[2] += _int(n)
        if len(per) < 2:
            return ()
        return tuple(HostLine(h, v[0], v[1], 0, deliveries=v[2]) for h, v in sorted(per.items()))


async def build_report(query: Query, iso_week: str, tz: ZoneInfo, top_n: int,
                       scope: str | None = None, *, retention_days: int = 0,
                       hosted: Iterable[str] | None = None, relays: Iterable[str] = (),
                       missing: Sequence[str] = (),
                       held_since: Sequence[float] | None = None, keep_days: int = 0) -> WeeklyReport:
    """Every section of one ISO week in `tz`; `scope` (a customer domain) limits every figure
    to mail sent by or to that domain. `hosted` limits the per-customer table to hosted
    domains, and its deliveries are the inbound relay to mailbox servers, not outbound ones.
    `relays` are the relayhost's names (relays.py): a clear-text hop to one is the relay's.
    `missing` names data sources the caller knows are absent (shown in the report).
    `held_since`: arrival times of the mail Postfix holds now (quarantine.held_now; None: unknown)."""
    scope = scope.lower().rstrip(".") if scope else None
    bounds = midnights(iso_week, tz)
    hosted_set = frozenset(d.lower().rstrip(".") for d in hosted) if hosted is not None else None
    relay_set = frozenset(r.lower() for r in relays)
    rq = ReportQueries(query, Window.of(iso_week, tz), scope, tz, hosted_set, relay_set)
    prev = ReportQueries(query, Window.of(previous_week(iso_week), tz), scope, tz, hosted_set, relay_set)
    totals = await rq.totals()
    oldest = await rq.oldest()
    previous = await prev.totals() if oldest is not None and oldest < rq.w.start else None
    purged = 0 if scope else (await rq.events()).get("purge", 0)
    return WeeklyReport(
        iso_week=iso_week, timezone=tz.key, period_start=bounds[0], period_end=bounds[-1],
        totals=totals, previous=previous, tls=await rq.tls(), findings=await rq.findings(top_n),
        scanners=await rq.scanners(), health=Health() if scope else await rq.health(),
        retention=Retention(window_days=retention_days,
                            oldest_record=None if oldest is None else datetime.fromtimestamp(oldest, tz),
                            purged_this_week=purged),
        customers=await rq.customers(top_n, hosted_set), scope=scope,
        hosts=() if scope else await rq.hosts(),
        flagged_clear=FlaggedClear() if scope else await rq.flagged_clear(),
        quarantine=QuarantineWeek() if scope else await quarantine_week(rq, held_since, time.time(), keep_days),
        reports=await read_report_figures(rq, rq.w.start, rq.w.end, scope),
        missing=tuple(missing) + NOT_RECORDED + (await _reader_idle(rq, missing) if scope is None else ()))


async def _reader_idle(rq: ReportQueries, missing: Sequence[str]) -> tuple[str, ...]:
    """Without the reader the outbound figures are absent, not zero: say so (once)."""
    if any("delivery-log reader" in m for m in missing) or await rq.reader_ran():
        return ()
    return (READER_IDLE,)
