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


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"\x00", b"a", b"a\x00", b"\x00a", b"\xff"]), max_size=20).map(b"".join))
def test_utf16_sniffing_needs_a_nul_and_finds_both_byte_orders(data: bytes) -> None:
    # The NUL search before counting: a sample without one is never UTF-16 (a third of it
    # must be NUL), and ASCII text as UTF-16 is still found in either byte order.
    for sample in (data, data * 300):  # and past the 4,096-byte sample
        if b"\x00" not in sample[:4096]:
            assert mime.utf16_without_bom(sample) is None
    text = data.replace(b"\x00", b"").replace(b"\xff", b"").decode() or "a"
    text = (text * 8)[:2000]
    assert mime.utf16_without_bom(text.encode("utf-16-le")) == "utf-16-le"
    assert mime.utf16_without_bom(text.encode("utf-16-be")) == "utf-16-be"
