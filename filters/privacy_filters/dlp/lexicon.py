"""The words of access and credentials, one TOML file per language under lexicon/ (data,
reviewed like code; every entry names its source). Loaded once per process.

Two uses. The RE2 pattern `anchor_pattern()` finds, in a whole text, the words a password can
be named by (kinds secret and weak): the scanner runs the candidate detector only where
one occurs. `Lexicon.has(kind, window)` then tells, for a few hundred characters around a
candidate, whether words of a kind are there (user, access, negative, conference ...).

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

import re2

KINDS: Final = ("secret", "weak", "user", "access", "sortcode", "account", "bank", "negative",
                "conference")
_RE2_OPTIONS: Final = re2.Options()
_RE2_OPTIONS.max_mem = 32 << 20
_GLUE_MIN: Final = 5  # letters a word needs to end a compound ("Erst|passwort", not "La|pin")
# The words a password can be named by: only near one can a value have a label. (User
# words only support a label, so the candidate detector looks for them in its windows.)
ANCHOR_KINDS: Final = ("secret", "weak")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    compounds: bool   # its words may end a longer word (German, Dutch, Nordic, Finnic)
    inflect: int      # letters that may follow a word (case endings)
    sources: dict[str, str]
    entries: dict[str, dict[str, str]]  # kind -> term -> source id


def key(text: str) -> str:
    """How a word is looked up: folded, with any run of blanks or hyphens as one space
    ("Wi-Fi  key" and "wi fi key" are one entry)."""
    folded = fold(text)
    return _JOINERS.sub(" ", folded).strip() if " " in folded or "-" in folded or "\t" in folded \
        or "\n" in folded else folded


_JOINERS: Final = re.compile(r"[\s\-]+")


def fold(text: str) -> str:
    """Lower case without accents, typographic apostrophes made plain: how words compare.
    Accents are dropped by decomposition, so "é" and "e" fold alike; letters that do not
    decompose (ł, ø, ß) are mapped by hand."""
    text = text.casefold().replace("’", "'")
    if text.isascii():
        return text
    return _COMBINING.sub("", unicodedata.normalize("NFKD", text.translate(_NO_DECOMPOSE)))


# The combining marks NFKD splits off Latin, Greek and Cyrillic letters (one C-speed pass;
# unicodedata.combining per character is a Python loop)
_COMBINING: Final = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
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
                    folded = key(term)
                    kinds, comp, infl = self._index.get(folded, (frozenset(), False, 0))
                    self._index[folded] = (kinds | {kind}, comp or lang.compounds,
                                           max(infl, lang.inflect))
        self._kind_re = {kind: self._window_pattern(kind) for kind in KINDS}
        self._end_re = {kind: self._window_pattern(kind, at_end=True) for kind in KINDS}

    def _window_pattern(self, kind: str, at_end: bool = False) -> re2._Regexp:
        """One RE2 pattern per kind over folded text, boundaries per language group. RE2,
        not re: an alternation of a thousand words is one automaton pass in RE2 and a
        thousand tries per position in re. RE2 has no look-behind, so a boundary is a
        consumed non-letter (or the start); only whether and where a word ends is used."""
        groups: dict[tuple[bool, int], list[str]] = {}
        for word, (kinds, comp, infl) in self._index.items():
            if kind in kinds:
                glue = comp and len(word) >= _GLUE_MIN
                groups.setdefault((glue, infl if len(word) >= 4 else min(infl, 1)), []).append(word)
        parts = []
        for (comp, infl), terms in sorted(groups.items()):
            body = "|".join(_term_re(t) for t in sorted(terms, key=len, reverse=True))
            parts.append(("" if comp else r"(?:^|[^\pL\pN_])") + "(?:" + body + ")"
                         + (rf"\pL{{0,{infl}}}" if infl else "")
                         + ("$" if at_end else r"(?:$|[^\pL\pN_])"))
        return re2.compile("(?s)" + "|".join(parts) or "[^\\x00-\\x{10FFFF}]", _RE2_OPTIONS)

    def kinds_of(self, word: str) -> frozenset[str]:
        """The kinds of a matched word (exact folded spelling), empty when unknown."""
        entry = self._index.get(key(word))
        return entry[0] if entry else frozenset()

    def accepts(self, text: str, start: int, end: int) -> frozenset[str]:
        """Kinds of the word text[start:end] when it stands at a word boundary its languages
        allow (an anchor match from RE2, whose \\b is ASCII-only); empty otherwise."""
        entry = self._index.get(key(text[start:end]))
        if entry is None:
            return frozenset()
        kinds, comp, infl = entry
        if start > 0 and text[start - 1].isalnum() and not (comp and end - start >= _GLUE_MIN):
            return frozenset()  # "Lapin", "Spin": only a long word may end a compound
        if end - start < 4:
            infl = min(infl, 1)  # "kod|u", not "kod|ak": short words take one letter at most
        follow = end
        while follow < len(text) and follow - end <= infl and text[follow].isalnum():
            follow += 1
        if follow - end > infl:
            return frozenset()
        return kinds

    def has(self, kind: str, folded: str) -> bool:
        # ASCII goes to RE2 as bytes: a str costs an encoding and a position mapping per call
        return self._kind_re[kind].search(folded.encode() if folded.isascii() else folded) \
            is not None

    def ends_with(self, kind: str, folded: str) -> bool:
        """Whether a word of this kind ends where the folded text ends ("sort code")."""
        return self._end_re[kind].search(folded) is not None

    @functools.cached_property
    def _bank_end_re(self) -> re2._Regexp:
        return re2.compile("|".join(f"(?:{self._end_re[k].pattern})"
                                    for k in ("sortcode", "account", "bank")), _RE2_OPTIONS)

    def ends_with_bank_word(self, folded: str) -> bool:
        """A sort code, account or bank word ends where the folded text ends."""
        return self._bank_end_re.search(folded) is not None

    def is_word(self, value: str) -> bool:
        """A word (or phrase) of any language in the lexicon, whatever its kind."""
        return key(value) in self._index

    @functools.cached_property
    def anchor_re(self) -> re2._Regexp:
        """The anchor pattern compiled on its own, for a second look inside a rejected match."""
        return re2.compile(self.anchor_pattern(), _RE2_OPTIONS)

    def anchor_pattern(self, kinds: tuple[str, ...] = ANCHOR_KINDS) -> str:
        """RE2 pattern for the words of some kinds (the anchors by default), longest first
        (RE2 prefers the first alternative), each accented letter matching with or without
        its accent."""
        terms = {term for lang in self.languages for kind in kinds
                 for term in lang.entries[kind]}
        # longest term first: RE2 takes the first alternative that matches at a position
        ordered = sorted(terms, key=lambda t: (-len(fold(t)), t))
        alts = list(dict.fromkeys(_re2_term(t) for t in ordered))
        return r"(?i)(?:" + "|".join(alts) + ")"


def _term_re(folded: str) -> str:
    """A folded term as a Python pattern: spaces match any run of blanks or a hyphen."""
    return r"[\s\-]+".join(re.escape(part) for part in folded.split(" "))


def _re2_term(term: str) -> str:
    out = []
    for ch in term.lower():
        if ch in " -":
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
