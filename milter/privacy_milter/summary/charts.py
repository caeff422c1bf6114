"""Small PNG charts for the HTML part, drawn with matplotlib's Agg backend.

PNG because mail clients block `data:` images (Gmail, Outlook for Windows) and almost none
render SVG; the images travel as `cid:` parts. The object API (Figure + FigureCanvasAgg)
is used instead of pyplot: no global state, no display, safe in a worker thread. The PNG
metadata carries no software version or date, so the same report gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from .model import Count, DayShare, share
from .sections import label

WIDTH_IN, HEIGHT_IN, DPI = 6.0, 2.0, 100       # 600 x 200 pixels
GREEN, AMBER, GREY, BLUE = "#2e7d32", "#f9a825", "#9e9e9e", "#1565c0"
LEVEL_COLOURS = {"verified": GREEN, "encrypted": BLUE, "clear": AMBER}


@dataclass(frozen=True)
class Chart:
    name: str          # file name and the left part of its Content-ID: "encrypted-share.png"
    alt: str
    png: bytes
    width: int
    height: int


def _figure(width_in: float, height_in: float) -> Any:
    """A matplotlib Figure (Agg). matplotlib is imported here, not with this module: it
    pulls in numpy, whose native thread pool must not start with the daemon (its threads
    would not have the daemon's signal mask, and it costs start-up time for a weekly job)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), layout="constrained")


def _png(fig: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def encrypted_share_by_day(days: tuple[DayShare, ...]) -> Chart | None:
    if not days:
        return None
    fig = _figure(WIDTH_IN, HEIGHT_IN)
    ax = fig.add_subplot()
    xs = range(len(days))
    inbound = [share(d.encrypted_in, d.messages_in) for d in days]
    outbound = [share(d.encrypted_out, d.messages_out) for d in days]
    ax.plot(xs, [v if v is not None else float("nan") for v in inbound], marker="o",
            color=BLUE, label="in")
    ax.plot(xs, [v if v is not None else float("nan") for v in outbound], marker="s",
            color=GREEN, label="out")
    ax.set_xticks(list(xs), [d.day.strftime("%a %d") for d in days], fontsize=8)
    low = min([v for v in inbound + outbound if v is not None] or [0.0])
    ax.set_ylim(max(0.0, min(90.0, low - 2.0)), 100.5)
    ax.set_ylabel("% encrypted", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left", frameon=False)
    return Chart("encrypted-share.png", "Share of mail encrypted, per day (in and out)",
                 _png(fig), int(WIDTH_IN * DPI), int(HEIGHT_IN * DPI))


def outbound_levels(levels: tuple[Count, ...]) -> Chart | None:
    total = sum(c.n for c in levels)
    if not total:
        return None
    fig = _figure(WIDTH_IN, 1.0)
    ax = fig.add_subplot()
    left = 0.0
    for c in levels:
        part = 100.0 * c.n / total
        ax.barh([0], [part], left=left, color=LEVEL_COLOURS.get(c.key, GREY), label=label(c.key)[:20])
        left += part
    ax.set_xlim(0, 100)
    ax.set_yticks([])
    ax.tick_params(axis="x", labelsize=8)
    ax.legend(fontsize=8, ncols=len(levels), loc="upper center", bbox_to_anchor=(0.5, -0.35),
              frameon=False)
    return Chart("outbound-levels.png", "Outbound deliveries by TLS level", _png(fig),
                 int(WIDTH_IN * DPI), 100)
