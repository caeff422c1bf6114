"""Optional UK modulus checking against Pay.UK's published weight table (valacdos.txt).

We ship no table: the operator points `scan(..., modulus_table=path)` at a current copy.
Each table row is `from_sc to_sc METHOD w1..w14 [exception]`, weights applying to the six
sort code digits followed by the eight account digits. MOD10 and MOD11 take the weighted
sum modulo 10 or 11; DBLAL sums the digits of each product modulo 10.

Rows with an exception code change the algorithm in ways that differ per code; we do not
implement those, so such a sort code is reported as "unknown" and confidence is left alone.
A sort code absent from the table is also unknown (Pay.UK: such accounts cannot be checked).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rule:
    low: int
    high: int
    method: str
    weights: tuple[int, ...]
    exception: int


class ModulusTable:
    def __init__(self, rules: list[Rule]) -> None:
        self._rules = sorted(rules, key=lambda r: r.low)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ModulusTable":
        rules: list[Rule] = []
        with open(path, encoding="ascii", errors="replace") as fh:
            for number, line in enumerate(fh, 1):
                parts = line.split()
                if not parts:
                    continue
                try:
                    rules.append(Rule(int(parts[0]), int(parts[1]), parts[2].upper(),
                                      tuple(int(w) for w in parts[3:17]),
                                      int(parts[17]) if len(parts) > 17 else 0))
                except (ValueError, IndexError):
                    log.warning("modulus table line %d is malformed; skipped", number)
        return cls(rules)

    def check(self, sort_code: str, account: str) -> bool | None:
        """True when every applicable rule passes, False when one fails, None when unknown."""
        if len(sort_code) != 6 or len(account) != 8 or not (sort_code + account).isdigit():
            return None
        sc = int(sort_code)
        rules = [r for r in self._rules if r.low <= sc <= r.high]
        if not rules or any(r.exception for r in rules) or any(len(r.weights) != 14 for r in rules):
            return None
        digits = [int(ch) for ch in sort_code + account]
        return all(_passes(r, digits) for r in rules)


def _passes(rule: Rule, digits: list[int]) -> bool:
    products = [d * w for d, w in zip(digits, rule.weights)]
    if rule.method == "DBLAL":
        return sum(sum(divmod(p, 10)) for p in products) % 10 == 0
    if rule.method == "MOD11":
        return sum(products) % 11 == 0
    return sum(products) % 10 == 0


def load_table(source: "str | os.PathLike[str] | ModulusTable | None") -> ModulusTable | None:
    """Accept a path or an already loaded table; an unreadable file disables the check."""
    if source is None or isinstance(source, ModulusTable):
        return source
    try:
        return ModulusTable.load(source)
    except OSError as exc:
        log.warning("modulus table unreadable (%s); UK modulus checks disabled",
                    type(exc).__name__)
        return None
