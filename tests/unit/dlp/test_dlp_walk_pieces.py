"""Pieces of the MIME walk against the readings they shortened: html_to_text's tag
replacement (one callback per tag) and the UTF-16 sniffing (a NUL search first)."""

from __future__ import annotations

import html
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_filters.dlp import htmltext, mime


def _replace_tag(m: re.Match[str]) -> str:  # the replacement as it was (3f4c403)
    name = m.group(2).lower()
    if name in htmltext._BLOCK:
        return "\n"
    if name in htmltext._CELL:
        return "\t"
    if name == "input" and not m.group(1):
        value = htmltext._attr(htmltext._VALUE_ATTR, m.group(3))
        if value:
            return f" {htmltext._attr(htmltext._NAME_ATTR, m.group(3))}: {html.unescape(value)} \n"
    return ""


TAGS = ["<br>", "<BR/>", "</p>", "<Div class=x>", "<td>", "</TH>", "<span>", "<b>", "<input name=pw value=Tr0ub4dor>",
        "</input value=x>", "<INPUT value='a&amp;b' name=\"user\">", "<input value=>", "<tr\n>", "<tbody>", "<a:b-c>",
        "<title>", "<1>", "< p>", "<p", ">", "&amp;", "text ", "4539 1488", "\n", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TAGS), max_size=30).map("".join))
def test_tags_become_what_they_became(markup: str) -> None:
    old = htmltext._unescape(htmltext._TAG.sub(_replace_tag, htmltext._drop_hidden(htmltext._drop_comments(markup))),
                             10**6, htmltext._no_check)
    assert htmltext.html_to_text(markup, 10**6) == old


def _utf16_without_bom(data: bytes) -> str | None:  # as it was (3f4c403)
    sample = data[:4096]
    if len(sample) < 8 or sample.count(0) < len(sample) // 3:
        return None
    odd, even = sample[1::2], sample[0::2]
    if odd.count(0) >= 0.7 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.7 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"\x00", b"a", b"a\x00", b"\x00a", b"\xff"]), max_size=20).map(b"".join))
def test_utf16_sniffing_is_unchanged(data: bytes) -> None:
    assert mime.utf16_without_bom(data) == _utf16_without_bom(data)
    assert mime.utf16_without_bom(data * 300) == _utf16_without_bom(data * 300)  # past the 4,096-byte sample
