"""scan(): parse the message, run every detector over every visible text, fold the hits."""

from __future__ import annotations

import logging
import os
import re
import time
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO

from .banks import find_ibans, find_uk_accounts
from .cards import find_cards
from .credentials import find_credentials
from .limits import Limits
from .mime import Budget, ScanStopped, read_source, walk_message
from .modulus import ModulusTable, load_table
from .patterns import MAX_MATCHES, Engine, Match, engine
from .report import Collector, Hit, Report

log = logging.getLogger(__name__)

CHUNK = 256 * 1024   # characters per detector pass: bounds RE2's working memory
OVERLAP = 1024       # so a value cut by a chunk boundary is still seen whole once
RESUME_CHUNK = 16 * 1024  # pieces searched after a match cap was hit (see _detect_chunk)

# Characters that change how text looks without changing what it says.
_SPACES: dict[int, str | None] = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000"), " ")
_SPACES.update(dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None))
_SPACES.update({ord("\r"): None, ord("\u2010"): "-", ord("\u2011"): "-", ord("\u2012"): "-",
                ord("\u2013"): "-", ord("\u2014"): "-", ord("\u2212"): "-"})
# Only look further when one of those characters is there (most text has none).
_SPACES_RE = re.compile("[" + "".join(map(chr, _SPACES)).replace("-", "\\-") + "]")
# The same table as (character, replacement) pairs for str.replace (see _respace).
_SPACE_PAIRS = tuple((chr(code), new or "") for code, new in _SPACES.items())


def scan(source: bytes | BinaryIO, limits: Limits | None = None,
         modulus_table: str | os.PathLike[str] | ModulusTable | None = None, *,
         deadline: float | None = None) -> Report:
    """Find payment cards, IBANs, UK bank accounts and passwords in one RFC 5322 message.

    Stops at `deadline` (a time.monotonic() value) or after limits.max_scan_seconds,
    whichever comes first, and then reports unscannable reason "time". Never raises on bad
    input: what cannot be read is counted in `unscannable`, by reason.
    """
    limits = limits or Limits()
    collector = Collector()
    own = time.monotonic() + limits.max_scan_seconds
    budget = Budget(limits, deadline=own if deadline is None else min(deadline, own))
    table = load_table(modulus_table)

    def sink(text: str, where: str) -> None:
        try:
            for hit in detect(text, table, budget):
                collector.add(hit, where)
        except ScanStopped:
            raise
        except Exception as exc:  # noqa: BLE001 - one bad text must not end the whole scan
            log.warning("dlp detector failed on one part: %s", type(exc).__name__)
            budget.fail("malformed")

    try:
        raw, truncated = read_source(source, limits)
        if truncated:
            budget.fail("too_large")
        walk_message(raw, sink, budget)
    except ScanStopped:
        budget.fail("time")  # what was found so far still counts
    except Exception as exc:  # noqa: BLE001 - a scan must return; the type is enough to debug
        log.warning("dlp scan stopped early: %s", type(exc).__name__)
        budget.fail("malformed")
    if budget.reasons:  # Counter.update is Python: most scans have nothing to add
        collector.reasons.update(budget.reasons)
    return collector.report()


def detect(text: str, table: ModulusTable | None = None,
           budget: Budget | None = None) -> Iterator[Hit]:
    """All hits in one text (subject, body part or attachment text)."""
    budget = budget or Budget(Limits())
    # Chunks are cut at line breaks, which NFKC never joins across, so each chunk is
    # normalised on its own: a 16 MB text costs 64 steps with a look at the clock between.
    for chunk in _chunks(text):
        budget.check()
        yield from _detect_chunk(normalise(chunk), table, budget)


def normalise(text: str) -> str:
    if not text.isascii():
        if _SPACES_RE.search(text):
            text = _respace(text)
        text = unicodedata.normalize("NFKC", text)
        if _OTHER_DIGIT.search(text):
            text = _fold_digits(text)
    return text.replace("\r", "")


# A decimal digit (Unicode category Nd) that is not ASCII: NFKC folds full-width digits but
# not Arabic-Indic, Devanagari, Bengali, Thai... A number written in them is the same number.
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _fold_digits(text: str) -> str:
    return _OTHER_DIGIT.sub(lambda m: str(unicodedata.digit(m.group())), text)


def _respace(text: str) -> str:
    """text.translate(_SPACES), one str.replace per character of the table that is there.
    translate looks every character of a non-ASCII text up in the dict (~150 ns each: most
    of a scan's text preparation); replace copies at memory speed. The same result, as no
    replacement (" ", "-" or nothing) is itself a key of the table."""
    for old, new in _SPACE_PAIRS:
        if old in text:
            text = text.replace(old, new)
    return text


def _chunks(text: str, size: int = CHUNK) -> Iterator[str]:
    if len(text) <= size:
        yield text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind("\n", start + size // 2, end)
            end = cut if cut != -1 else end
        yield text[max(0, start - OVERLAP):end]
        start = end


class _Counting:
    """The pattern engine as the detectors see it, noting where a search stopped at its cap
    (MAX_MATCHES per pattern and text: the start of the first match not handed out) and
    how many matches were handed out."""

    def __init__(self, eng: Engine, text: str) -> None:
        self._eng = eng
        self._text = text
        self.capped = False
        self.resume: int | None = None   # where the first unexamined match starts
        self.matches = 0
        # Searches made, kept for a detector asking again (the password-word search feeds
        # both the labelled and the table rules): the same matches, counted again.
        self._done: dict[tuple[str, str, int], list[Match]] = {}

    def find(self, name: str, text: str, cap: int = MAX_MATCHES) -> Iterator[Match]:
        key = (name, text, cap)
        found = self._done.get(key)
        if found is None:  # one more than the cap: whether there are more, and where
            found = self._done[key] = self._eng.find(name, text, cap + 1)
        for n, m in enumerate(found):
            if n >= cap:
                self.capped = True
                if text is self._text and m.start > 0:
                    self.resume = m.start if self.resume is None else min(self.resume, m.start)
                return
            self.matches += 1
            yield m


def _detect_chunk(text: str, table: ModulusTable | None, budget: Budget) -> Iterator[Hit]:
    """Hits in one chunk. When a pattern has more matches than the detectors look at (400
    card-shaped decoys before the real card), the search goes on from the first match not
    looked at, in pieces of RESUME_CHUNK characters, so the real value is still found. The
    matches looked at per scan are capped by limits.max_candidates; a search cut short by
    that counts as unscannable "budget"."""
    pending = [text]
    eng = engine()
    while pending:
        piece = pending.pop()
        hits = eng.which(piece)
        if not hits:
            continue  # no pattern occurs: no detector has a match to look at
        counting = _Counting(eng, piece)
        yield from _run_detectors(piece, table, counting, hits)
        budget.candidates += counting.matches
        if not counting.capped:
            continue
        if counting.resume is None or budget.candidates >= budget.limits.max_candidates:
            budget.fail("budget")
            return
        budget.check()
        # Keep some text before the first unexamined match: its context ("card number").
        rest = piece[counting.resume - min(OVERLAP, counting.resume // 2):]
        pending.extend(reversed(list(_chunks(rest, RESUME_CHUNK))))


def _run_detectors(text: str, table: ModulusTable | None, eng: _Counting,
                   hits: frozenset[str]) -> Iterator[Hit]:
    """The detectors of the patterns that occur in text (`hits`, Engine.which)."""
    if "card" in hits:
        yield from find_cards(text, eng)  # type: ignore[arg-type]  # duck-typed Engine
    if "iban" in hits:
        yield from find_ibans(text, eng)  # type: ignore[arg-type]
    if "sortcode" in hits and "account" in hits and "bank_lex" in hits:
        # a pair, labelled in any language; with no bank word at all it could never score
        yield from find_uk_accounts(text, eng, hits, table)  # type: ignore[arg-type]
    yield from find_credentials(text, eng, hits)  # type: ignore[arg-type]
