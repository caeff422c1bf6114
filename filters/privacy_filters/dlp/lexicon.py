"""The words of access and credentials, one TOML file per language under lexicon/ (data,
reviewed like code; every entry names its source). Loaded once per process.

Two uses. The RE2 pattern `ANCHOR_PATTERN` finds, in a whole text, the words a password can
be named by (kinds secret, weak, user): the scanner runs the candidate detector only where
one occurs. `Lexicon.kinds_in(window)` then tells, for a few hundred characters around a
candidate, which kinds of words are there (access, negative, conference ...).

Matching is case-folded and accent-blind (a word listed as "contraseña" matches
"CONTRASENA"), at word boundaries; a language that joins words (`compounds`, German
"Erstpasswort") lets its words end a longer one, and `inflect` lets that many letters follow
(Polish "hasłem", Finnish "salasanasi").
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass
from importlib import resources
from typing import Final

KINDS: Final = ("secret", "weak", "user", "access", "sortcode", "account", "bank", "negative",
                "conference")
ANCHOR_KINDS: Final = ("secret", "weak", "user")  # the words a password can be named by


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    compounds: bool   # its words may end a longer word (German, Dutch, Nordic, Finnic)
    inflect: int      # letters that may follow a word (case endings)
    sources: dict[str, str]
    entries: dict[str, dict[str, str]]  # kind -> term -> source id


def fold(text: str) -> str:
    """Lower case without accents, typographic apostrophes made plain: how words compare.
    Accents are dropped by decomposition, so "é" and "e" fold alike; letters that do not
    decompose (ł, ø, ß) are mapped by hand."""
    text = text.casefold().replace("’", "'")
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSE))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


_NO_DECOMPOSE: Final = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae",
                                      "œ": "oe", "þ": "th", "ð": "d"})


def load_languages() -> tuple[Language, ...]:
    """Every lexicon/*.toml, sorted by language code."""
    out = []
    folder = resources.files(__package__) / "lexicon"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".toml"):
            continue
        data = tomllib.loads(item.read_text(encoding="utf-8"))
        meta = data["language"]
        entries = {kind: dict(data.get(kind, {})) for kind in KINDS}
        out.append(Language(meta["code"], meta["name"], bool(meta["compounds"]),
                            int(meta["inflect"]), dict(data["sources"]), entries))
    return tuple(out)


class Lexicon:
    """All languages' words, indexed by folded spelling."""

    def __init__(self, languages: tuple[Language, ...]) -> None:
        self.languages = languages
        # folded term -> (kinds, left-open (compound), letters allowed after)
        self._index: dict[str, tuple[frozenset[str], bool, int]] = {}
        for lang in languages:
            for kind, terms in lang.entries.items():
                for term in terms:
                    key = fold(term)
                    kinds, comp, infl = self._index.get(key, (frozenset(), False, 0))
                    self._index[key] = (kinds | {kind}, comp or lang.compounds,
                                        max(infl, lang.inflect))
        self._kind_re = {kind: self._window_pattern(kind) for kind in KINDS}

    def _window_pattern(self, kind: str) -> re.Pattern[str]:
        """One Python pattern per kind over folded text, boundaries per language group."""
        groups: dict[tuple[bool, int], list[str]] = {}
        for key, (kinds, comp, infl) in self._index.items():
            if kind in kinds:
                groups.setdefault((comp, infl), []).append(key)
        parts = []
        for (comp, infl), terms in sorted(groups.items()):
            body = "|".join(_term_re(t) for t in sorted(terms, key=len, reverse=True))
            parts.append(("" if comp else r"(?<![\w])") + "(?:" + body + ")"
                         + (r"\w{0,%d}" % infl if infl else "") + r"(?![\w])")
        return re.compile("|".join(parts) or r"(?!x)x")

    def kinds_of(self, word: str) -> frozenset[str]:
        """The kinds of a matched word (exact folded spelling), empty when unknown."""
        entry = self._index.get(fold(word))
        return entry[0] if entry else frozenset()

    def accepts(self, text: str, start: int, end: int) -> frozenset[str]:
        """Kinds of the word text[start:end] when it stands at a word boundary its languages
        allow (an anchor match from RE2, whose \\b is ASCII-only); empty otherwise."""
        entry = self._index.get(fold(text[start:end]))
        if entry is None:
            return frozenset()
        kinds, comp, infl = entry
        if start > 0 and text[start - 1].isalnum() and not comp:
            return frozenset()
        follow = end
        while follow < len(text) and follow - end <= infl and text[follow].isalnum():
            follow += 1
        if follow - end > infl:
            return frozenset()
        return kinds

    def find(self, kind: str, folded: str) -> list[re.Match[str]]:
        """Words of one kind in an already folded window."""
        return list(self._kind_re[kind].finditer(folded))

    def has(self, kind: str, folded: str) -> bool:
        return self._kind_re[kind].search(folded) is not None

    def is_word(self, value: str) -> bool:
        """A word (or phrase) of any language in the lexicon, whatever its kind."""
        return fold(value) in self._index

    def anchor_pattern(self) -> str:
        """RE2 pattern for the anchor words, longest first (RE2 prefers the first
        alternative), each accented letter matching with or without its accent."""
        terms = {term for lang in self.languages for kind in ANCHOR_KINDS
                 for term in lang.entries[kind]}
        alts = sorted({_re2_term(t) for t in terms}, key=len, reverse=True)
        return r"(?i)(?:" + "|".join(alts) + ")"


def _term_re(folded: str) -> str:
    """A folded term as a Python pattern: spaces match any run of blanks or a hyphen."""
    return r"[\s\-]+".join(re.escape(part) for part in folded.split(" "))


def _re2_term(term: str) -> str:
    out = []
    for ch in term.lower():
        if ch == " ":
            out.append(r"[ \t\-]+")
            continue
        base = fold(ch)
        if ch in "'’":
            out.append("['’]")
        elif base != ch and len(base) == 1:
            out.append("[" + re.escape(ch) + re.escape(base) + "]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


@functools.cache
def lexicon() -> Lexicon:
    return Lexicon(load_languages())
