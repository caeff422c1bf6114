"""Folding raw hits into one Finding per category: counts, best confidence, where it was seen."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from privacy_milter.model import Confidence, Finding

CATEGORIES = ("payment_card", "iban", "uk_bank_account", "password")


@dataclass(frozen=True)
class Hit:
    """One detection before aggregation. `key` is a salted digest, never the value itself."""

    category: str
    confidence: Confidence
    key: bytes

    def __repr__(self) -> str:  # the digest is harmless, but keep reprs boring anyway
        return f"Hit({self.category}, {self.confidence.label})"


def digest(category: str, value: str) -> bytes:
    """A short digest so the same value seen twice (text and HTML alternative) counts once."""
    return hashlib.blake2b(value.encode("utf-8", "replace"), digest_size=8,
                           person=category.encode()[:16]).digest()


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...] = ()
    unscannable: int = 0                     # parts or searches that could not be completed
    unscannable_reasons: tuple[str, ...] = ()  # why, sorted: "budget", "encrypted", "time", ...


@dataclass
class Collector:
    """Mutable accumulator used during one scan only."""

    _seen: dict[str, dict[bytes, tuple[Confidence, str]]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)  # unscannable count per reason

    @property
    def unscannable(self) -> int:
        return sum(self.reasons.values())

    def add(self, hit: Hit, where: str) -> None:
        per = self._seen.setdefault(hit.category, {})
        old = per.get(hit.key)
        if old is None or hit.confidence > old[0]:
            per[hit.key] = (hit.confidence, where)

    def has(self, category: str) -> bool:
        return bool(self._seen.get(category))

    def report(self) -> Report:
        findings = []
        for category in CATEGORIES:
            per = self._seen.get(category)
            if not per:
                continue
            confidence, where = max(per.values(), key=lambda cw: (cw[0], _WHERE_RANK[cw[1]]))
            if category == "password" and set(self.reasons) - {"time", "budget"}:
                # A password next to something we could not open is most likely the key to it.
                confidence = Confidence.HIGH
            findings.append(Finding(category, confidence, len(per), where))
        return Report(tuple(findings), self.unscannable, tuple(sorted(self.reasons)))


_WHERE_RANK = {"subject": 2, "body": 1, "attachment": 0}
