"""scan(): parse the message, run every detector over every visible text, fold the hits."""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Iterator
from typing import BinaryIO

from .banks import find_ibans, find_uk_accounts
from .cards import find_cards
from .credentials import find_credentials
from .limits import Limits
from .mime import Budget, read_source, walk_message
from .modulus import ModulusTable, load_table
from .patterns import engine
from .report import Collector, Hit, Report

log = logging.getLogger(__name__)

CHUNK = 256 * 1024   # characters per detector pass: bounds RE2's working memory
OVERLAP = 1024       # so a value cut by a chunk boundary is still seen whole once

# Characters that change how text looks without changing what it says.
_SPACES: dict[int, str | None] = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000"), " ")
_SPACES.update(dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None))
_SPACES.update({ord("\r"): None, ord("\u2010"): "-", ord("\u2011"): "-", ord("\u2012"): "-",
                ord("\u2013"): "-", ord("\u2014"): "-", ord("\u2212"): "-"})


def scan(source: bytes | BinaryIO, limits: Limits | None = None,
         modulus_table: str | os.PathLike[str] | ModulusTable | None = None) -> Report:
    """Find payment cards, IBANs, UK bank accounts and passwords in one RFC 5322 message.

    Never raises on bad input: what cannot be read is counted in `unscannable`.
    """
    limits = limits or Limits()
    collector = Collector()
    budget = Budget(limits)
    table = load_table(modulus_table)

    def sink(text: str, where: str) -> None:
        try:
            for hit in detect(text, table):
                collector.add(hit, where)
        except Exception as exc:  # noqa: BLE001 - one bad text must not end the whole scan
            log.warning("dlp detector failed on one part: %s", type(exc).__name__)
            budget.unscannable += 1

    try:
        raw, truncated = read_source(source, limits)
        if truncated:
            budget.unscannable += 1
        walk_message(raw, sink, budget)
    except Exception as exc:  # noqa: BLE001 - a scan must return; the type is enough to debug
        log.warning("dlp scan stopped early: %s", type(exc).__name__)
        budget.unscannable += 1
    collector.unscannable = budget.unscannable
    return collector.report()


def detect(text: str, table: ModulusTable | None = None) -> Iterator[Hit]:
    """All hits in one text (subject, body part or attachment text)."""
    for chunk in _chunks(normalise(text)):
        yield from _detect_chunk(chunk, table)


def normalise(text: str) -> str:
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text.translate(_SPACES))
    return text.replace("\r", "")


def _chunks(text: str) -> Iterator[str]:
    if len(text) <= CHUNK:
        yield text
        return
    start = 0
    while start < len(text):
        end = min(len(text), start + CHUNK)
        if end < len(text):
            cut = text.rfind("\n", start + CHUNK // 2, end)
            end = cut if cut != -1 else end
        yield text[max(0, start - OVERLAP):end]
        start = end


def _detect_chunk(text: str, table: ModulusTable | None) -> Iterator[Hit]:
    eng = engine()
    hits = eng.which(text)
    if not hits:
        return
    if "card" in hits:
        yield from find_cards(text, eng)
    if "iban" in hits:
        yield from find_ibans(text, eng)
    if "uk_words" in hits:
        yield from find_uk_accounts(text, eng, hits, table)
    yield from find_credentials(text, eng, hits)
