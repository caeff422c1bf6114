"""`privacy-milter summary --preview | --html FILE | --send [--week 2026-W48]`.

Reads the store named by `[store] backend` read-only (never creates it); a store that does not exist yet gives an empty
report, and says so on standard error. `--html` writes the HTML with its charts beside it,
the `cid:` references rewritten to the file names, so a browser shows what a client would.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .. import hostname
from ..errors import PrivacyMilterError
from ..policy import Policy
from ..services import SmtpSender
from .compose import compose
from .job import sender_address
from .model import WeeklyReport
from .queries import build_report, iso_week_of, previous_week, week_start
from .quarantine import held_now
from .relays import configured_relays
from .render import CID_DOMAIN, render
from .source import describe, report_query

ABSENT = {"deliveries": "outbound deliveries (the delivery-log reader has written none)",
          "maillog_polls": "unparsed log lines (the delivery-log reader has not run)"}


async def load_report(policy: Policy, week: str | None, now: float | None = None) -> WeeklyReport:
    s = policy.summary
    tz = ZoneInfo(s.timezone)
    week = week or previous_week(iso_week_of(datetime.fromtimestamp(now or time.time(), UTC), tz))
    async with report_query(policy.store, readonly=True) as (query, missing, exists):
        if not exists:
            print(f"privacy-milter: the store {describe(policy.store)} does not exist yet: "
                  "showing an empty report", file=sys.stderr)
        return await build_report(query, week, tz, s.top_n,
                                  retention_days=policy.store.retention_days,
                                  hosted=policy.network.hosted_domains or None,
                                  relays=configured_relays(),
                                  missing=[ABSENT[m] for m in missing if m in ABSENT],
                                  held_since=await held_now(policy), keep_days=policy.quarantine.keep_days)


def write_html(report: WeeklyReport, path: Path) -> list[Path]:
    out = render(report)
    html = out.html
    written = []
    for chart in out.images:
        target = path.with_name(f"{path.stem}-{chart.name}")
        target.write_bytes(chart.png)
        html = html.replace(f"cid:{chart.name}@{CID_DOMAIN}", target.name)
        written.append(target)
    path.write_text(html, encoding="utf-8")
    return [path, *written]


def run(policy: Policy, *, preview: bool, html: Path | None, send: bool, week: str | None) -> int:
    if week is not None:
        try:
            week_start(week)
        except ValueError as exc:
            raise PrivacyMilterError(str(exc)) from None
    report = asyncio.run(load_report(policy, week))
    if preview:
        sys.stdout.write(render(report).text)
    if html is not None:
        try:
            for p in write_html(report, html):
                print(f"wrote {p}")
        except OSError as exc:
            raise PrivacyMilterError(f"cannot write {html}: {exc.strerror}") from None
    if send:
        s = policy.summary
        if not s.recipients:
            raise PrivacyMilterError("[summary] recipients is empty: nobody to send the summary to")
        # the same name the daemon uses (From, HELO); refused with what to set if there is none
        policy = replace(policy, store=replace(policy.store, host_name=hostname.resolve(policy.store.host_name)))
        tz = ZoneInfo(s.timezone)
        msg = compose(report, sender_address(policy), list(s.recipients), datetime.now(tz))
        smtp = SmtpSender.from_settings(policy.smtp, helo=policy.store.host_name)
        how = asyncio.run(smtp.send(msg, sender_address(policy), list(s.recipients)))
        print(f"sent the summary of {report.iso_week} to {len(s.recipients)} recipient(s) "
              f"via {smtp.host}:{smtp.port}: {how}")
    return 0
