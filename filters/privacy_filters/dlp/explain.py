"""Why a message was flagged: every hit with its rule, confidence, part, line and masked value.

For `privacy-milter scan --explain`. It walks the message as `scan()` does and runs the same
detectors, but keeps each hit instead of folding them into one Finding per category. The
value never leaves this package unmasked: a Hit only carries `shown` (first and last
character at most).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from privacy_milter.model import Confidence

from .limits import Limits
from .mime import Budget, read_source, walk_message
from .modulus import ModulusTable, load_table
from .scanner import CHUNK, OVERLAP, detect, normalise


@dataclass(frozen=True)
class Explained:
    category: str
    rule: str
    confidence: Confidence
    where: str   # subject, header, body, attachment
    part: int    # 1-based count of the texts walked (subject, body parts, attachment texts)
    line: int    # 1-based line in that text, 0 when unknown
    shown: str   # the value masked


def explain(source: bytes | BinaryIO, limits: Limits | None = None,
            modulus_table: str | os.PathLike[str] | ModulusTable | None = None) -> list[Explained]:
    return explain_with_reasons(source, limits, modulus_table)[0]


def explain_with_reasons(source: bytes | BinaryIO, limits: Limits | None = None,
                         modulus_table: str | os.PathLike[str] | ModulusTable | None = None,
                         ) -> tuple[list[Explained], list[tuple[str, int]]]:
    """Every hit, and what could not be read: (reason, count) sorted by reason."""
    limits = limits or Limits()
    budget = Budget(limits)
    table = load_table(modulus_table)
    out: list[Explained] = []
    seen: set[tuple[int, bytes, str]] = set()
    count = 0

    def sink(text: str, where: str) -> None:
        nonlocal count
        count += 1
        text = normalise(text)
        for offset, piece in _pieces(text):
            for hit in detect(piece, table):
                if (count, hit.key, hit.rule) in seen:
                    continue  # the same value seen again in a chunk's overlap
                seen.add((count, hit.key, hit.rule))
                line = text.count("\n", 0, offset + hit.pos) + 1 if hit.pos >= 0 else 0
                out.append(Explained(hit.category, hit.rule, hit.confidence, where, count, line,
                                     hit.shown))

    raw, _ = read_source(source, limits)
    walk_message(raw, sink, budget)
    return out, sorted(budget.reasons.items())


def _pieces(text: str) -> Iterator[tuple[int, str]]:
    """The text in the scanner's chunk sizes, each with its offset (line numbers need it)."""
    start = 0
    while True:
        end = min(len(text), start + CHUNK)
        if end < len(text):
            cut = text.rfind("\n", start + CHUNK // 2, end)
            end = cut if cut != -1 else end
        begin = max(0, start - OVERLAP)
        yield begin, text[begin:end]
        if end >= len(text):
            return
        start = end
