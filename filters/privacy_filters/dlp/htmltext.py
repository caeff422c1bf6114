"""HTML to the text a reader sees: entities decoded, markup gone, blocks kept apart.

Block elements become line breaks and table cells tabs, so two numbers in adjacent cells
are never glued into one, and inline markup (<b>, <span>) adds nothing, so a number split
by formatting tags stays whole.

This is a small tokenizer rather than `html.parser`: the stdlib parser goes quadratic on
hostile input such as a megabyte of unclosed "<a", and mail is hostile input. Every step
here moves forward through the text, so the cost is linear in its length: in particular
the search for the end of a hidden element (</title>) is done at most once per position,
so a megabyte of unclosed <title> tags costs one pass, not one pass per tag (issue 13).
`check` is called every few thousand steps; it raises to stop at the scan's deadline.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

Check = Callable[[], None]
STEP = 2048            # tags (or hidden elements) handled between two calls of check
PIECE = 256 * 1024     # characters unescaped between two calls of check

_BLOCK = frozenset(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form "
    "h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section table tbody thead tfoot tr ul "
    "title option caption center".split())
_CELL = frozenset(("td", "th"))
# What a tag becomes, by its lower-cased name (any other: nothing, see html_to_text).
_TAG_TEXT = dict.fromkeys(_BLOCK, "\n") | dict.fromkeys(_CELL, "\t")
# A tag cannot contain "<", so a stray "<" ends a candidate at once: no backtracking.
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9:-]*)([^<>]*)>")
# Tag names are ASCII case-insensitive (HTML): "(?a:" keeps re.IGNORECASE from matching the
# Unicode letters that fold to one ("<\u017fcript>", "<t\u0131tle>"). A browser shows such a
# "tag" as text, so its content must be read as text too, not hidden (nor crash the lookup).
_HIDDEN_OPEN = re.compile(r"<(?a:(script|style|head|template|title))\b[^<>]*>", re.IGNORECASE)
_VALUE_ATTR = re.compile(r"""\bvalue\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
# Attributes a reader sees: alt (shown when an image is not) and title (a tooltip).
_SHOWN_ATTR = re.compile(r"""\b(?:alt|title)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)
# The page title, shown in the tab or window: read before <head> is dropped.
_TITLE = re.compile(r"<(?a:title)\b[^<>]*>([^<]{1,2000})</(?a:title)\s*>", re.IGNORECASE)
# An element hidden by its own inline style, with no tag inside it: what a reader does not
# see is taken out of the rendered text (so "4539<span style=display:none>9</span>1488"
# reads as the reader sees it) and read on its own after it (hidden text is evidence too).
_CSS_HIDDEN = re.compile(
    r"""<([A-Za-z][A-Za-z0-9]{0,15})\b[^<>]{0,200}?\bstyle\s*=\s*["'][^"'<>]{0,200}?"""
    r"""(?:display\s*:\s*none|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:;|!|["']))"""
    r"""[^<>]{0,400}>([^<]{0,2000})</\1\s*>""", re.IGNORECASE)  # bounded: no input makes it quadratic
_NAME_ATTR = re.compile(r"""\bname\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.IGNORECASE)


def _no_check() -> None:
    return None


def html_to_text(markup: str, limit: int, check: Check = _no_check) -> str:
    markup = _drop_comments(markup[:limit * 4])
    check()
    title = _TITLE.search(markup) if "<title" in markup or "<TITLE" in markup else None
    markup = _drop_hidden(markup, check)
    hidden: list[str] = []
    if "style" in markup or "STYLE" in markup:
        def take(m: re.Match[str]) -> str:
            hidden.append(m[2])
            return ""
        markup = _CSS_HIDDEN.sub(take, markup)
    if title is not None:
        markup = title.group(1) + "\n" + markup
    calls = 0
    extras: list[str] = []  # alt and title text: read after the body, never inside its numbers

    def replace(m: re.Match[str]) -> str:  # one call per tag: the tag's work is inline
        nonlocal calls
        calls += 1
        if calls % STEP == 0:
            check()
        name = m[2].lower()
        if name == "input" and not m[1]:
            return _input_text(m[3])
        if "=" in m[3] and ("alt" in m[3] or "title" in m[3] or "ALT" in m[3] or "TITLE" in m[3]):
            extras.extend(_shown_attrs(m[3]))
        return _TAG_TEXT.get(name, "")  # a line break, a tab or nothing

    text = _TAG.sub(replace, markup)
    extras.extend(h for h in hidden[:STEP] if h.strip())
    if extras:
        text += "\n\n" + "\n".join(extras[:STEP])
    return _unescape(text, limit, check)[:limit]


def _unescape(text: str, limit: int, check: Check) -> str:
    """html.unescape in pieces (a megabyte of "&amp;" is a million Python calls)."""
    if len(text) <= PIECE:
        return html.unescape(text)
    out: list[str] = []
    size = pos = 0
    while pos < len(text) and size <= limit:
        check()
        end = min(len(text), pos + PIECE)
        if end < len(text):
            amp = text.rfind("&", end - 40, end)  # never cut a character reference in two
            if amp != -1 and ";" not in text[amp:end]:
                end = amp
        piece = html.unescape(text[pos:end])
        out.append(piece)
        size += len(piece)
        pos = end
    return "".join(out)


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


def _drop_hidden(markup: str, check: Check = _no_check) -> str:
    """Remove script/style/head bodies: never shown to the reader."""
    out, pos = [], 0
    # Per element name: where its next closing tag is (a match found earlier and still ahead)
    # or None once none is left. Each name's closing tags are searched for once, left to
    # right, however many opening tags there are.
    closings: dict[str, re.Match[str] | None] = {}
    steps = 0
    while (m := _HIDDEN_OPEN.search(markup, pos)) is not None:
        steps += 1
        if steps % STEP == 0:
            check()
        out.append(markup[pos:m.start()])
        name = m.group(1).lower()
        if name not in closings or ((ahead := closings[name]) is not None
                                    and ahead.start() < m.end()):
            closings[name] = _closing(name).search(markup, m.end())
        closing = closings[name]
        if closing is None:
            pos = m.end()  # unclosed: keep the text, markup goes anyway
            if name in ("script", "style"):
                return "".join(out)
            continue
        # The head's title is shown in the tab, but the subject carries the same words.
        pos = closing.end()
        out.append("\n")
    out.append(markup[pos:])
    return "".join(out)


_CLOSING = {name: re.compile(r"</(?a:" + name + r")\s*>", re.IGNORECASE)
            for name in ("script", "style", "head", "template", "title")}


def _closing(name: str) -> re.Pattern[str]:
    return _CLOSING[name]


def _shown_attrs(attrs: str) -> list[str]:
    """The alt and title values of one tag (still escaped: the whole text is unescaped once)."""
    values = (next((g for g in m.groups() if g is not None), "") for m in _SHOWN_ATTR.finditer(attrs))
    return [v for v in values if v.strip()]


def _input_text(attrs: str) -> str:
    """A pre-filled form field is visible text: <input name=password value=...>."""
    value = _attr(_VALUE_ATTR, attrs)
    if value:
        return f" {_attr(_NAME_ATTR, attrs)}: {html.unescape(value)} \n"
    return ""


def _attr(pattern: re.Pattern[str], attrs: str) -> str:
    found = pattern.search(attrs)
    return next((g for g in found.groups() if g is not None), "") if found else ""
