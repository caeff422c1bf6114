"""Folding raw hits into one Finding per category: counts, best confidence, where it was seen."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from privacy_milter.model import Confidence, Finding

CATEGORIES = ("payment_card", "iban", "uk_bank_account", "password")
# Not a detection rule: raises a password to high because an attachment could not be read.
NEXT_TO_UNSCANNABLE = "password.next_to_unscannable"


@dataclass(frozen=True)
class Hit:
    """One detection before aggregation. `key` is a salted digest, never the value itself.

    `rule` is the stable symbol of the rule that fired (docs/DLP.md lists them). `shown`
    is the value masked for `scan --explain` (first and last character at most) and `pos`
    an offset of the match in the text it was found in; neither is used to decide.
    """

    category: str
    confidence: Confidence
    key: bytes
    rule: str = ""
    shown: str = field(default="", compare=False)
    pos: int = field(default=-1, compare=False)

    def __repr__(self) -> str:  # the digest is harmless, but keep reprs boring anyway
        return f"Hit({self.category}, {self.confidence.label}, {self.rule})"


def mask(value: str) -> str:
    """"4•••••••••••••2": the first and last character at most; short values wholly hidden."""
    value = "".join(value.split())
    if len(value) < 6:
        return "•" * len(value)
    return value[0] + "•" * (len(value) - 2) + value[-1]


def make_hit(category: str, confidence: Confidence, value: str, rule: str, pos: int = -1) -> Hit:
    """A Hit for `value`: digest for counting, mask for explaining, the value itself dropped."""
    return Hit(category, confidence, digest(category, value), rule, mask(value), pos)


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
    _rules: dict[str, set[str]] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)  # unscannable count per reason

    @property
    def unscannable(self) -> int:
        return sum(self.reasons.values())

    def add(self, hit: Hit, where: str) -> None:
        per = self._seen.setdefault(hit.category, {})
        old = per.get(hit.key)
        if old is None or hit.confidence > old[0]:
            per[hit.key] = (hit.confidence, where)
        if hit.rule:
            self._rules.setdefault(hit.category, set()).add(hit.rule)

    def has(self, category: str) -> bool:
        return bool(self._seen.get(category))

    def report(self) -> Report:
        findings = []
        for category in CATEGORIES:
            per = self._seen.get(category)
            if not per:
                continue
            confidence, where = max(per.values(), key=lambda cw: (cw[0], _WHERE_RANK[cw[1]]))
            rules = set(self._rules.get(category, ()))
            if category == "password" and set(self.reasons) - {"time", "budget"}:
                # A password next to something we could not open is most likely the key to it.
                confidence = Confidence.HIGH
                rules.add(NEXT_TO_UNSCANNABLE)
            findings.append(Finding(category, confidence, len(per), where, tuple(sorted(rules))))
        return Report(tuple(findings), self.unscannable, tuple(sorted(self.reasons)))


_WHERE_RANK = {"subject": 3, "header": 2, "body": 1, "attachment": 0}
