"""HTML to the text a reader sees: entities decoded, markup gone, blocks kept apart.

Block elements become line breaks and table cells tabs, so two numbers in adjacent cells
are never glued into one, and inline markup (<b>, <span>) adds nothing, so a number split
by formatting tags stays whole.

This is a small tokenizer rather than `html.parser`: the stdlib parser goes quadratic on
hostile input such as a megabyte of unclosed "<a", and mail is hostile input. Every step
here moves forward through the text, so the cost is linear in its length.
"""

from __future__ import annotations

import html
import re

_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul "
    "title option caption center".split())
_CELL = frozenset(("td", "th"))
# A tag cannot contain "<", so a stray "<" ends a candidate at once: no backtracking.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)([^<>]*)>")
_HIDDEN_OPEN = re.compile(r"<(script|style|head|template|title)\b[^<>]*>", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""\bvalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
_NAME_ATTR = re.compile(r"""\bname\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def html_to_text(markup: str, limit: int) -> str:
    markup = _drop_comments(markup[:limit * 4])
    markup = _drop_hidden(markup)
    text = _TAG.sub(_replace_tag, markup)
    return html.unescape(text)[:limit]


def _drop_comments(markup: str) -> str:
    out, pos = [], 0
    while (start := markup.find("<!--", pos)) != -1:
        out.append(markup[pos:start])
        end = markup.find("-->", start + 4)
        if end == -1:
            return "".join(out)  # an unclosed comment hides the rest, as in a browser
        pos = end + 3
    out.append(markup[pos:])
    return "".join(out)


def _drop_hidden(markup: str) -> str:
    """Remove script/style/head bodies: never shown to the reader."""
    out, pos = [], 0
    while (m := _HIDDEN_OPEN.search(markup, pos)) is not None:
        out.append(markup[pos:m.start()])
        closing = re.compile(r"</" + m.group(1) + r"\s*>", re.IGNORECASE).search(markup, m.end())
        if closing is None:
            pos = m.end()  # unclosed: keep the text, markup goes anyway
            if m.group(1).lower() in ("script", "style"):
                return "".join(out)
            continue
        # The head's title is shown in the tab, but the subject carries the same words.
        pos = closing.end()
        out.append("\n")
    out.append(markup[pos:])
    return "".join(out)


def _replace_tag(m: re.Match[str]) -> str:
    name = m.group(2).lower()
    if name in _BLOCK:
        return "\n"
    if name in _CELL:
        return "\t"
    if name == "input" and not m.group(1):
        # A pre-filled form field is visible text: <input name=password value=...>.
        value = _attr(_VALUE_ATTR, m.group(3))
        if value:
            return f" {_attr(_NAME_ATTR, m.group(3))}: {html.unescape(value)} \n"
    return ""


def _attr(pattern: re.Pattern[str], attrs: str) -> str:
    found = pattern.search(attrs)
    return next((g for g in found.groups() if g is not None), "") if found else ""
