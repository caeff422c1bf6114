"""scanner.normalise's pieces against the stdlib reading they stand for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from privacy_filters.dlp import scanner

# Every character of the table, what its replacements are, and neighbours that are not in it.
ALPHABET = "".join(map(chr, scanner._SPACES)) + " -ab1\n\u00e9\u00a3\u4e2d\U0001f600"


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=60))
def test_respace_is_translate(text: str) -> None:
    assert scanner._respace(text) == text.translate(scanner._SPACES)


def test_every_character_of_the_table_is_replaced() -> None:
    for code, new in scanner._SPACES.items():
        assert scanner._respace(f"a{chr(code)}b{chr(code)}") == f"a{new or ''}b{new or ''}"
