"""Payment card numbers: grouping as printed, Luhn, issuer prefix and length, then context."""

from __future__ import annotations

import re
from collections.abc import Iterator

from privacy_milter.model import Confidence

from . import context as ctx
from .patterns import Engine
from .report import Hit, make_hit
from .validators import NEEDS_CONTEXT, TEST_CARDS, card_groups_ok, card_scheme, luhn_ok

_GROUP = re.compile(r"\d+")
_PRINTED_SCHEMES = frozenset(("visa", "mastercard", "amex", "discover"))
_PLAIN_SEPS = frozenset(("", " ", "-", "."))


def find_cards(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("card", text):
        rejected: set[tuple[int, int]] = set()
        for start, end, groups, loose in _candidates(text, m.start, m.end, rejected):
            hit = _judge(text, start, end, groups, loose)
            if hit is not None:
                yield hit
            else:
                rejected.add((start, end))


def _candidates(text: str, start: int, end: int, rejected: set[tuple[int, int]] | None = None
                ) -> Iterator[tuple[int, int, list[int], bool]]:
    """Runs of digit groups that are shaped like a printed card number.

    A digit run may hold a card glued to other numbers by spaces ("room 31 4111 ..."); a
    window of groups is tried only when the groups cut off do not look like more of the
    same card (a 4-digit neighbour means the run is something longer, like a parcel number).
    """
    if end - start > 120:
        return  # a long run of spaced digits is a table of numbers, not a printed card
    spans = [(g.start(), g.end()) for g in _GROUP.finditer(text, start, end)]
    if 12 <= len(spans) <= 19 and all(b - a == 1 for a, b in spans):
        # "4 5 3 9 1 4 ...": a space (or one separator) between every digit is one number.
        yield spans[0][0], spans[-1][1], [len(spans)], True
        return
    n = len(spans)
    sizes = [b - a for a, b in spans]
    upto = [0]  # upto[k]: digits in the first k groups, so a window's count is one subtraction
    for size in sizes:
        upto.append(upto[-1] + size)
    i = 0
    while i < n:
        found = False
        # A printed card has at most five groups, so windows are short: linear overall.
        for j in range(min(n - 1, i + 4), i - 1, -1):
            if not 12 <= upto[j + 1] - upto[i] <= 19:
                continue
            lengths = sizes[i:j + 1]
            if not card_groups_ok(lengths):
                continue
            seps = {text[spans[k][1]:spans[k + 1][0]] for k in range(i, j)}
            # One plain separator throughout is how cards are printed; anything else
            # (mixed separators, " - ", tabs, a line break) is a loose reading that needs
            # card words around it and a grouping that is exactly a card's.
            loose = len(seps) > 1 or not seps <= _PLAIN_SEPS
            if loose and (len(lengths) < 3 or not card_groups_ok(lengths)):
                continue
            if (i > 0 and lengths[0] == 4 and spans[i - 1][1] - spans[i - 1][0] == 4) or (
                    j < n - 1 and spans[j + 1][1] - spans[j + 1][0] == 4 and len(lengths) > 1):
                continue
            if len(lengths) == 1 and n > 1 and lengths[0] < 12:
                continue  # a lone long run inside spaced numbers is not a printed card
            yield spans[i][0], spans[j][1], lengths, loose
            if rejected is not None and (spans[i][0], spans[j][1]) in rejected and loose:
                continue  # "4539 …\n11/28": the wrapped run was the card plus its expiry
            i, found = j + 1, True
            break
        if not found:
            i += 1


def _judge(text: str, start: int, end: int, groups: list[int], loose: bool = False) -> Hit | None:
    if start > 0 and text[start - 1] in "/#_":
        return None  # an identifier in a URL path or a name: ".../testcase/5229304507138048"
    digits = "".join(ch for ch in text[start:end] if ch.isdigit())
    scheme = card_scheme(digits)
    if scheme is None or not luhn_ok(digits) or digits in TEST_CARDS or len(set(digits)) <= 2:
        return None
    before = ctx.before(text, start, 80)
    after = ctx.after(text, end, 40)
    # The word card itself (not pay/billing) next to a valid number with a real issuer prefix:
    # ordinary words around it (booking, ticket, test, phone) may lower confidence, never erase it.
    named = bool(ctx.STRONG_CARD_WORDS.search(before) or ctx.STRONG_CARD_WORDS.search(after))
    contested = bool(ctx.TEST_WORDS.search(before[-40:]))
    card_at = ctx.last_match_end(ctx.CARD_WORDS, before)
    # "PO 368567.\n\nCC: ..." : a label in an earlier line or sentence says nothing here.
    clause = max(before.rfind("\n"), before.rfind(". "), before.rfind(";")) + 1
    not_card_at = ctx.last_match_end(ctx.NOT_CARD_WORDS, before[clause:])
    not_card_at = not_card_at + clause if not_card_at >= 0 else -1
    # "Card for the order: N exp 09/27": a card word earlier in the same clause and an expiry
    # after the number outweigh the order word between them.
    carded = card_at >= clause and bool(ctx.EXPIRY.search(after))
    if not_card_at > card_at and not_card_at >= len(before) - 32 and not carded:
        contested = True  # the word right before says order/reference/phone number
    if contested:
        if not named or loose or scheme in NEEDS_CONTEXT:
            return None
        return make_hit("payment_card", Confidence.LOW, digits, "card.luhn_iin_contested", start)
    rule = "card.luhn_iin_context"
    if ctx.STRONG_CARD_WORDS.search(before) or ctx.STRONG_CARD_WORDS.search(after):
        confidence: Confidence | None = Confidence.HIGH
    elif ctx.EXPIRY.search(after) or ctx.EXPIRY.search(before[-24:]) or (
            _alone_on_line(text, start, end) and ctx.EXPIRY_LINE.match(after)):
        confidence, rule = Confidence.HIGH, "card.luhn_iin_expiry"
    elif card_at >= 0 or ctx.CARD_WORDS.search(after):
        confidence = Confidence.MEDIUM
    elif len(groups) > 2 and scheme in _PRINTED_SCHEMES:  # 8+8 alone is two numbers as often
        confidence = Confidence.LOW  # printed like a card, valid, but nobody said so
        rule = "card.luhn_iin_printed"
    else:
        confidence = None
    if confidence is None or (scheme in NEEDS_CONTEXT and confidence < Confidence.HIGH) or (
            loose and confidence < Confidence.MEDIUM):
        return None
    return make_hit("payment_card", confidence, digits, rule, start)


def _alone_on_line(text: str, start: int, end: int) -> bool:
    """Nothing but the number on its line ("For the flights:\n4539 …\n11/28")."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    return not text[line_start:start].strip(" \t>") and not text[
        end:line_end if line_end != -1 else len(text)].strip()
