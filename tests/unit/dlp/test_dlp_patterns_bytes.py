"""ASCII text goes to RE2 as bytes (patterns._subject): the same matches at the same positions
as the str path of the re2 module, for every pattern."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

import pytest

from privacy_filters.dlp.patterns import NAMES, engine

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "dlp-dev"

EXTRA = [
    "", "card 4539 1488 0343 6467 exp 09/27", "Passwort: Sommer2024! für Müller", "IBAN DE89 3704 0044 0532 0130 00",
    "sort code 30-94-57 account 61528374", "pw: x\npassword = hunter22\n", "https://user:pa55word@example.org/x",
    "AKIAIOSFODNN7EXAMPLE and ghp_" + "a" * 36, "contraseña: abc12345", "пароль: qwerty123", "\x00\x7f\t\n",
]


def texts() -> list[str]:
    out = list(EXTRA)
    for path in sorted(CORPUS.glob("*.eml")):
        for part in message_from_bytes(path.read_bytes(), policy=compat32).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload.decode("utf-8", "replace"))
    return out


@pytest.mark.dev_corpus
def test_bytes_and_str_paths_agree() -> None:
    eng = engine()
    checked_ascii = 0
    for text in texts():
        checked_ascii += text.isascii()
        which = frozenset(NAMES[i] for i in eng._set.Match(text) or ())  # the str path
        assert eng.which(text) == which
        for name in NAMES:
            expected = [(m.start(), m.end()) for m in eng._compiled[name].finditer(text)][:50]
            got = [(m.start, m.end) for m in eng.find(name, text, 50)]
            assert got == expected, name
    assert checked_ascii > 300


# --- the RE2 programs read directly (patterns._positions) ------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
import re2  # noqa: E402

from privacy_filters.dlp import patterns  # noqa: E402

ASCII_PIECES = ["4539", " ", "-", "\n", "password", ": ", "x", "", "GB29", "NWBK", "6016", "1331", "9268", "19",
                "pin", "=", "a1!", "\t", "sort code", "30-94-57", "@", "https://u:p@h/"]


def test_every_pattern_reads_its_program_directly() -> None:
    eng = engine()
    assert set(eng._programs) == set(NAMES)  # this re2 release: no pattern goes the slow way


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ASCII_PIECES), max_size=40), st.integers(min_value=1, max_value=6))
def test_direct_reading_matches_finditer(pieces: list[str], cap: int) -> None:
    eng = engine()
    text = "".join(pieces)
    for name in NAMES:
        expected = [m.span() for m in eng._compiled[name].finditer(text.encode())][:cap]
        assert [tuple(m) for m in eng.find(name, text, cap)] == expected, name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(ASCII_PIECES + ["\u00e9", "p\u00e4ssword", "\u00a0", "has\u0142o: "]), max_size=40),
       st.integers(min_value=1, max_value=6))
def test_the_str_path_keeps_the_first_matches(pieces: list[str], cap: int) -> None:
    eng = engine()
    text = "".join(pieces)
    for name in NAMES:
        expected = [m.span() for m in eng._compiled[name].finditer(text)][:cap]
        assert [tuple(m) for m in eng.find(name, text, cap)] == expected, name


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([r"x*", r"\b", r"(?:ab)?", r"a|", r"$", r"[0-9]{0,3}"]),
       st.text(alphabet="xab09 \n", max_size=30))
def test_empty_matches_step_on_like_the_module(pattern: str, text: str) -> None:
    compiled = re2.compile(pattern)
    data = text.encode()
    expected = [m.span() for m in compiled.finditer(data)]
    got = [tuple(m) for m in patterns._positions(compiled._regexp, data, 1000)]
    assert got == expected
