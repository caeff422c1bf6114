"""The two parts of the summary: text for an 80-column terminal, HTML from Jinja2 templates.

Both are drawn from the same sections (sections.py), so they carry the same figures. The
HTML is built with autoescape on (domain names and reasons come from outside), laid out
with tables, its CSS inlined with css_inline (clients drop <style>), no external resource
and no script; charts are PNG parts referenced as `cid:NAME`.
"""

from __future__ import annotations

from dataclasses import dataclass

import css_inline
from jinja2 import Environment, PackageLoader, StrictUndefined

from . import charts
from .model import WeeklyReport
from .reports_section import with_reports
from .sections import Section, Table, num, pct, sections

WIDTH = 80
CID_DOMAIN = "summary.invalid"   # the right side of the charts' Content-IDs
GAP = "  "

_env = Environment(loader=PackageLoader("privacy_milter.summary", "templates"), autoescape=True,
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_style_tags=False,
                                 keep_link_tags=False)


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    images: tuple[charts.Chart, ...]


def title(r: WeeklyReport) -> str:
    scope = f" for {r.scope}" if r.scope else ""
    return f"Mail privacy summary{scope}, week {r.week_number} {r.year}"


def subject(r: WeeklyReport) -> str:
    if r.is_empty:
        return f"{title(r)}: no mail"
    t = r.totals
    tail = f"{num(t.messages)} messages, {pct(t.encrypted_share)} encrypted"
    if r.flagged_clear.messages and r.scope is None:
        n = r.flagged_clear.messages
        tail = f"ACTION NEEDED, {num(n)} flagged message{'' if n == 1 else 's'} sent in clear; {tail}"
    return f"{title(r)}: {tail}"


def period(r: WeeklyReport) -> str:
    end = r.period_end
    return (f"{r.period_start:%a %d %b %Y} to {end:%a %d %b %Y} "
            f"({r.timezone}, Monday 00:00 to Monday 00:00)")


# --- text ----------------------------------------------------------------------------------

def _fit(cell: str, width: int) -> str:
    return cell if len(cell) <= width else cell[:max(1, width - 1)] + "\u2026"


def text_table(t: Table, indent: str = "  ") -> list[str]:
    cols = len(t.headers)
    widths = [max([len(t.headers[i])] + [len(row[i]) for row in t.rows]) for i in range(cols)]
    room = WIDTH - len(indent) - len(GAP) * (cols - 1)
    if sum(widths) > room:                 # only the first (label) column gives way
        widths[0] = max(8, room - sum(widths[1:]))
    def line(cells: tuple[str, ...]) -> str:
        parts = [_fit(c, widths[i]).rjust(widths[i]) if t.numeric[i] else
                 _fit(c, widths[i]).ljust(widths[i]) for i, c in enumerate(cells)]
        return (indent + GAP.join(parts)).rstrip()
    out = [indent + t.caption] if t.caption else []
    if not t.rows:
        return out + [indent + "  (none)"]
    if any(t.headers):
        out += [line(t.headers), (indent + GAP.join("-" * w for w in widths)).rstrip()]
    return out + [line(row) for row in t.rows]


def render_text(r: WeeklyReport, parts: list[Section] | None = None) -> str:
    head = title(r)
    lines = [head, "=" * len(head), period(r), ""]
    for s in parts if parts is not None else with_reports(sections(r), r):
        lines += [s.title.upper(), "-" * len(s.title)]
        if s.intro:
            lines.append(s.intro)
        for t in s.tables:
            lines += [""] + text_table(t)
        for n in s.notes:
            lines += ["", n]
        lines.append("")
    lines.append("Domains and counts only: no address, subject or found value is kept or shown.")
    out = []
    for ln in lines:                       # notes and intros are wrapped, tables already fit
        while len(ln) > WIDTH:
            cut = ln.rfind(" ", 0, WIDTH)
            cut = cut if cut > 0 else WIDTH
            out.append(ln[:cut])
            ln = "  " + ln[cut:].lstrip()
        out.append(ln)
    return "\n".join(out) + "\n"


# --- HTML ----------------------------------------------------------------------------------

def render_html(r: WeeklyReport, parts: list[Section], images: tuple[charts.Chart, ...]) -> str:
    html = _env.get_template("summary.html").render(
        title=title(r), period=period(r), sections=parts, charts={c.name: c for c in images},
        empty=r.is_empty, cid_domain=CID_DOMAIN)
    return str(_inliner.inline(html))


def render(r: WeeklyReport) -> Rendered:
    parts = with_reports(sections(r), r)
    images = tuple(c for c in (charts.encrypted_share_by_day(r.tls.by_day) if r.scope is None else None,
                               charts.outbound_levels(r.tls.outbound_by_level) if r.scope is None else None)
                   if c is not None)
    return Rendered(subject(r), render_text(r, parts), render_html(r, parts, images), images)
