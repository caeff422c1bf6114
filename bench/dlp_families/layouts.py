"""Layouts: how a message lays a Snip out (issue 24's family set).

One line in prose, the label on the line above, an HTML table, a CSV attachment, a
key=value config, a chat reply with quoted history, a forward, a signature block, a bullet
list. Each returns the message's body part as bytes (headers of the part included).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from html import escape
from typing import Any

import common as v
from wordings import Snip

Lang = dict[str, Any]
NAMES = ("Sam", "Eilidh", "Rhys", "Aoife", "Piotr", "Ines", "Lukas", "Maja", "Katrin",
         "Marco", "Dafydd", "Siobhan", "Jonas", "Eva", "Tomas")


def _open(L: Lang, r: random.Random) -> str:
    return L["hi"].format(n=r.choice(NAMES)) + "\n\n" + L["fill"]


def _close(L: Lang, r: random.Random) -> str:
    return f"{L['bye']}\n{r.choice(NAMES)}"


def _text(body: str, r: random.Random) -> bytes:
    return v.text_part(body, cte=r.choice(("8bit", "8bit", "quoted-printable")))


def one_line(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    return _text(f"{_open(L, r)} {s.line}\n\n{_close(L, r)}\n", r)


def label_above(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    colon = r.choice((":", "", ":"))
    gap = r.choice(("\n", "\n\n"))
    block = gap.join(f"{label}{colon}\n{value}" for label, value in s.pairs)
    return _text(f"{_open(L, r)}\n\n{L['here']}\n\n{block}\n\n{_close(L, r)}\n", r)


def table_html(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    if r.random() < 0.5:  # labels in the first column
        rows = "".join(f"<tr><td><b>{escape(k)}</b></td><td>{escape(val)}</td></tr>"
                       for k, val in s.pairs)
    else:  # labels as the column headers, the values in the row below
        rows = ("<tr>" + "".join(f"<th>{escape(k)}</th>" for k, _ in s.pairs) + "</tr><tr>"
                + "".join(f"<td>{escape(val)}</td>" for _, val in s.pairs) + "</tr>")
    html = (f"<html><body><p>{escape(_open(L, r))}</p><p>{escape(L['here'])}</p>"
            f"<table border=\"1\" cellpadding=\"4\">{rows}</table>"
            f"<p>{escape(_close(L, r)).replace(chr(10), '<br>')}</p></body></html>")
    return v.text_part(html, "html", cte=r.choice(("8bit", "quoted-printable")))


def csv_attachment(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    sep = r.choice((",", ";"))
    head = sep.join(k for k, _ in s.pairs)
    row = sep.join(val for _, val in s.pairs)
    other = sep.join("" for _ in s.pairs)
    data = f"{head}\r\n{row}\r\n{other}\r\n".encode("utf-8")
    text = v.text_part(f"{_open(L, r)}\n\n{L['here']} (CSV)\n\n{_close(L, r)}\n")
    att = v.attachment(data, "text/csv", r.choice(("access.csv", "details.csv", "export.csv")))
    return v.multipart("mixed", [text, att], f"b-{i:05d}")


def kv_config(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    pairs = s.kv or [(k.lower().replace(" ", "_"), val) for k, val in s.pairs]
    eq = r.choice(("=", " = ", ": "))
    block = "\n".join(f"{k}{eq}{val}" for k, val in pairs)
    if r.random() < 0.5:
        text = v.text_part(f"{_open(L, r)}\n\n{L['here']}\n\n{block}\n\n{_close(L, r)}\n")
        return text
    text = v.text_part(f"{_open(L, r)}\n\n{_close(L, r)}\n")
    att = v.attachment(f"# {L['here']}\n{block}\n".encode(), "text/plain",
                       r.choice(("site.conf", "settings.ini", "wifi.conf")))
    return v.multipart("mixed", [text, att], f"b-{i:05d}")


def chat_reply(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    quote_first = r.random() < 0.5
    new = f"{s.line}\n\n{r.choice(NAMES)}" if quote_first else f"{L['fill']}\n\n{r.choice(NAMES)}"
    old = f"{L['hi'].format(n=r.choice(NAMES))}\n{L['fill']}" if quote_first else \
        f"{L['hi'].format(n=r.choice(NAMES))}\n{s.line}\n{_close(L, r)}"
    quoted = "\n".join("> " + line if line else ">" for line in old.splitlines())
    who = r.choice(NAMES)
    return _text(f"{new}\n\nOn 1 Sep 2025, at 09:{i % 60:02d}, {who} <{who.lower()}@example.org> wrote:\n"
                 f"{quoted}\n", r)


def forwarded(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    who = r.choice(NAMES)
    inner = f"{L['hi'].format(n=r.choice(NAMES))}\n\n{s.line}\n\n{_close(L, r)}"
    return _text(f"FYI\n\n---------- Forwarded message ---------\nFrom: {who} <{who.lower()}@example.org>\n"
                 f"Date: Mon, 1 Sep 2025 at 10:{i % 60:02d}\nSubject: {L[s.subject_key]}\n"
                 f"To: office@example.co.uk\n\n{inner}\n", r)


def signature(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    who = r.choice(NAMES)
    if s.pairs and r.random() < 0.5:
        extra = " | ".join(f"{k}: {val}" for k, val in s.pairs)
    else:
        extra = s.line
    sig = (f"--\n{who} {r.choice(('Evans', 'MacLeod', 'Nowak', 'Byrne', 'Schmidt'))}\n"
           f"Office Manager | Example Trading Ltd\nUnit 4, 12 Harbour Road, Leeds LS1 4AB\n"
           f"T: 0113 496 0{r.randint(100, 999)}\n{extra}\n")
    return _text(f"{_open(L, r)}\n\n{L['bye']}\n{who}\n\n{sig}", r)


def bullet(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    mark = r.choice(("- ", "* ", "• ", "1. "))
    items = [f"{mark}{k}: {val}" for k, val in s.pairs] if s.pairs else [f"{mark}{s.line}"]
    return _text(f"{_open(L, r)}\n\n{L['here']}\n" + "\n".join(items) + f"\n\n{_close(L, r)}\n", r)


def text_table(L: Lang, s: Snip, r: random.Random, i: int) -> bytes:
    """A plain-text table as pasted from a spreadsheet or a wiki: pipes or aligned spaces."""
    heads, values = [k for k, _ in s.pairs], [val for _, val in s.pairs]
    widths = [max(len(h), len(val)) for h, val in zip(heads, values)]
    if r.random() < 0.5:
        rows = ["| " + " | ".join(x.ljust(w) for x, w in zip(row, widths)) + " |"
                for row in (heads, values)]
        rows.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    else:
        rows = ["  ".join(x.ljust(w) for x, w in zip(row, widths)).rstrip() for row in (heads, values)]
    return _text(f"{_open(L, r)}\n\n{L['here']}\n\n" + "\n".join(rows) + f"\n\n{_close(L, r)}\n", r)


Layout = Callable[[Lang, Snip, random.Random, int], bytes]
LAYOUTS: dict[str, Layout] = {
    "one_line": one_line, "label_above": label_above, "table_html": table_html,
    "csv": csv_attachment, "kv_config": kv_config, "chat_reply": chat_reply,
    "forwarded": forwarded, "signature": signature, "bullet": bullet, "text_table": text_table,
}
