"""One pass of a multi-pattern engine over each text, then precise matching only where needed.

A `re2.Set` answers "which of these patterns occur anywhere in this text?" in a single
linear scan. Most text matches nothing and costs exactly that one pass; only the patterns
the set reports are then run individually to get their positions. RE2 also guarantees
linear time, so no input can make a pattern backtrack catastrophically.
"""

from __future__ import annotations

from itertools import islice
from typing import Final, NamedTuple

import re2

from .described import ENTRY_VERBS, LOCK_WORDS
from .lexicon import lexicon
from .temporary import SECRET_NOUN, TEMP_WORDS

_SPECS: Final = (
    # name, pattern
    # Groups joined by one separator, a loose one (" - ", two spaces, a tab) or a line break
    # (a number wrapped in plain text or split over table cells); cards.py decides.
    # Separators beyond space, dash and dot ("·", "•", "/", "_", "|", ",") are read too.
    ("card", r"\b\d(?:(?:[ \t]{0,4}[.\-·•/_|,]?[ \t]{0,4}(?:\n[> \t]{0,6})?)?\d){11,}"),
    # Groups may wrap onto the next line (hard-wrapped plain text); banks.py cuts the match
    # at the country's length, so a following line never becomes part of the IBAN.
    ("iban", r"\b[A-Z]{2}\d{2}(?:(?:[ \-·•/_|.,]|[ ]?\n)?[A-Z0-9]){10,34}"
             # lower case only compact or in groups of four: prose ("be16 and be32") is neither
             r"|\b[a-z]{2}\d{2}(?:[a-z0-9]{10,30}|(?: [a-z0-9]{4}){2,7}(?: [a-z0-9]{1,4})?)\b"),
    ("sortcode", r"\b\d{2}[ .\-–·•_|]?\d{2}[ .\-–·•_|]?\d{2}\b"),
    ("account", r"\b\d{8}\b|\b\d{4}[ \-]\d{4}\b"),
    # Words a password can be named by, in every lexicon language (candidates.py)
    ("cred_lex", lexicon().anchor_pattern()),
    # Words of UK bank details in every lexicon language: a sort code and an account number
    # can only be a finding with one of them near (banks.py), so without one no pair is read
    ("bank_lex", lexicon().anchor_pattern(("sortcode", "account", "bank"))),
    # A lock-like thing with its code, or a verb of getting in (described.py); the reversed
    # "mit X kommst du" starts at the preposition.
    ("opens", r"(?i)\b(?:" + LOCK_WORDS + r")|\b(?:" + ENTRY_VERBS + r")\b"
              r"|\b(?:use|using|with|mit|avec)\s+\S{6,64}[^\n.!?]{0,8}?\b(?:to\s+)?(?:" + ENTRY_VERBS + r")\b"),
    # "initial login", "Erstkennwort", "mot de passe provisoire" (temporary.py)
    ("temp_word", r"(?i)\b(?:" + TEMP_WORDS + r")[ \t-]?(?:" + SECRET_NOUN + r")"
                  r"|\b(?:" + SECRET_NOUN + r")[ \t]+(?:" + TEMP_WORDS + r")"),
    ("login_pair", r"(?i)\b(?:login|log-?in|logon|credentials?|sign[- ]?in|user(?:name)?|"
                   r"wi-?fi|wlan|ssid|zugang(?:sdaten)?|benutzer(?:name)?|anmeldung|identifiants?|"
                   r"usuario|utente|gebruiker(?:snaam)?)\b"
                   r"[^\n]{0,80}?[\w.@+\-]{2,64}\s+/\s+\S{4,}"
                   r"|(?i)\b(?:user(?:name)?|login)\s*/\s*pass(?:word)?\s*[:=]\s*[\w.@+\-]{2,64}/\S{4,}"),
    ("cred_below", r"(?im)\b(?:credentials|log-?in\s+details|log-?in\s+data|access\s+details|"
                   r"zugangsdaten|anmeldedaten|identifiants|credenciales|inloggegevens|"
                   r"credenziali|credenciais|dane\s+logowania)\b[^\n]{0,40}?"
                   r"(?:\b(?:below|follows?|unten|ci-dessous|abajo|hieronder|sotto|abaixo|poniżej)\b"
                   r"[ \t]*:?|:)[ \t]*$"),
    ("token_word", r"(?i)\b(?:api[ _-]?key|secret[ _-]?key|access[ _-]?token|auth[ _-]?token|"
                   r"client[ _-]?secret|bearer|private[ _-]?token|app[ _-]?secret)\b"),
    ("pem", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    ("aws_id", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|AIPA)[A-Z0-9]{16}\b"),
    ("aws_secret", r"(?i)aws.{0,20}secret.{0,20}[:=]\s*[\"']?[A-Za-z0-9/+]{40}\b"),
    ("github", r"\b(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{60,})\b"),
    ("gitlab", r"\bglpat-[A-Za-z0-9_\-]{20,}"),
    ("slack", r"\bxox[abposr]-[0-9]+-[A-Za-z0-9\-]{10,}"),
    ("slack_hook", r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}"),
    ("stripe", r"\b(?:sk|rk)_live_[A-Za-z0-9]{20,}"),
    ("google", r"\bAIza[0-9A-Za-z_\-]{35}"),  # the end is checked in credentials.py
    ("npm", r"\bnpm_[A-Za-z0-9]{36}\b"),
    ("sendgrid", r"\bSG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}\b"),
    ("ai_key", r"\bsk-(?:proj|ant-api\d\d|svcacct)-[A-Za-z0-9_\-]{30,}"),
    # A password option on a command line: -pSECRET glued (mysql), --password[=| ]SECRET,
    # sshpass -p SECRET, -u/--user user:SECRET (curl); credentials.py weighs the value.
    ("cmd_pass", r"(?:^|[\s;|&(])(?:-p|--password|--passwd|--pass|-u|--user)(?:=|[ \t]+)?['\"]?[^\s'\"]{4,128}"),
    ("url_cred", r"\b[a-z][a-z0-9+.\-]{1,15}://[^\s/:@\"'<>]{1,64}:[^\s/@\"'<>]{1,64}@[\w.\-]+"),
)

NAMES: Final = tuple(name for name, _ in _SPECS)
_NAME_OF: Final = NAMES.__getitem__  # a pattern's name by its index in the set
# Per pattern and chunk (256 K characters). Real mail has a handful of candidates; a
# megabyte of "password: " must not cost seconds. Values past the cap are not seen.
MAX_MATCHES: Final = 400


class Match(NamedTuple):
    """Where a pattern matched (a tuple: one is made per match, and a tuple is the cheapest)."""

    start: int
    end: int

    def __repr__(self) -> str:  # positions only: the matched text is never part of a repr
        return f"Match({self.start}, {self.end})"


class Engine:
    """Compiled once per process; `run` is thread-safe (RE2 objects are immutable)."""

    def __init__(self) -> None:
        options = re2.Options()
        options.max_mem = 64 << 20
        self._set = re2.Set.SearchSet(options)
        for _, pattern in _SPECS:
            self._set.Add(pattern)
        self._set.Compile()
        self._compiled = {name: re2.compile(pattern, options) for name, pattern in _SPECS}
        # The compiled RE2 programs under the re2 module's Python objects, for ASCII text
        # (see _positions); {} if a later re2 release keeps them elsewhere.
        self._programs = {name: program for name, compiled in self._compiled.items()
                          if (program := getattr(compiled, "_regexp", None)) is not None
                          and callable(getattr(program, "Match", None))} if _UNANCHORED is not None else {}

    def which(self, text: str) -> frozenset[str]:
        """Names of the patterns that occur at least once: the single pass."""
        return frozenset(map(_NAME_OF, self._set.Match(_subject(text)) or ()))  # None: no match

    def find(self, name: str, text: str, cap: int = MAX_MATCHES) -> list[Match]:
        """Positions of one pattern, at most `cap` of them (hostile text can hold millions).
        A list, not a generator: every detector reads its matches to the end, and the
        engine view (scanner._Counting) keeps them for a detector asking again."""
        subject = _subject(text)
        program = self._programs.get(name) if isinstance(subject, bytes) else None
        if program is not None:
            return _positions(program, subject, cap)  # type: ignore[arg-type]
        # one span() call: start() and end() each look the group count up
        return [Match(*m.span()) for m in islice(self._compiled[name].finditer(subject), cap)]


def _positions(program: object, data: bytes, cap: int) -> list[Match]:
    """finditer's matches on bytes, straight from the RE2 program: the loop of the re2
    module's _Regexp._match for bytes (the same calls, the same steps past an empty match)
    without its generator, a _Match object and a span() per match. Bytes positions are the
    positions in the text, as _subject gives bytes only for ASCII text."""
    match = program.Match  # type: ignore[attr-defined]
    found: list[Match] = []
    pos, end = 0, len(data)
    for _ in range(cap):
        span = match(_UNANCHORED, data, pos, end)[0]
        if span == _NULL_SPAN:
            break
        found.append(Match(*span))
        if pos == end:
            break
        pos = pos + 1 if pos == span[1] else span[1]
    return found


def _subject(text: str) -> str | bytes:
    """What RE2 is given. RE2 matches UTF-8 bytes; for a str the re2 module encodes it and maps
    every match position back from bytes to characters in Python (about 3 us a match). ASCII
    text is its own UTF-8 with byte positions equal to character positions, so it goes as
    bytes: the same matches at the same positions, without the mapping."""
    return text.encode("ascii") if text.isascii() else text


_NULL_SPAN = (-1, -1)
try:  # the anchor the re2 module's search and finditer pass to RE2::Match
    _UNANCHORED = re2._re2.RE2.Anchor.UNANCHORED
except AttributeError:  # another re2 release: every search goes through the module
    _UNANCHORED = None

_ENGINE: Engine | None = None


def engine() -> Engine:
    global _ENGINE  # one compiled engine per process: compiling the set costs milliseconds
    if _ENGINE is None:
        _ENGINE = Engine()
    return _ENGINE
