"""The detectors' view of the pattern engine (scanner._Counting): a search a detector asks for
again is answered from the first reading, and counts against the candidate budget again, so
the budget and the resume point after a capped search are what they were with two searches."""

from __future__ import annotations

from privacy_filters.dlp.patterns import engine
from privacy_filters.dlp.scanner import _Counting

TEXT = "Password: Tr0ub4dor&3\nWLAN password is Gorse81Hill\nthe passwords list is below\n"


def test_a_search_read_again_gives_the_same_matches_and_counts_twice() -> None:
    eng = engine()
    counting = _Counting(eng, TEXT)
    first = list(counting.find("cred_lex", TEXT))
    fresh = list(eng.find("cred_lex", TEXT))
    assert first == fresh and len(first) == 3
    again = list(counting.find("cred_lex", TEXT))
    assert again == first
    assert counting.matches == 2 * len(first) and not counting.capped


def test_a_capped_search_asked_again_is_still_capped() -> None:
    counting = _Counting(engine(), TEXT)
    assert len(list(counting.find("cred_lex", TEXT, cap=2))) == 2
    assert counting.capped and counting.resume == TEXT.index("passwords")
    counting.capped, counting.resume = False, None
    assert len(list(counting.find("cred_lex", TEXT, cap=2))) == 2   # kept with the match past the cap
    assert counting.capped and counting.resume == TEXT.index("passwords")
    assert counting.matches == 4


def test_a_search_left_half_read_counts_what_was_handed_out() -> None:
    counting = _Counting(engine(), TEXT)
    next(iter(counting.find("cred_lex", TEXT)))   # a detector that stops at the first match
    assert list(counting.find("cred_lex", TEXT)) == list(engine().find("cred_lex", TEXT))
    assert counting.matches == 1 + 3


def test_a_text_no_pattern_occurs_in_goes_to_no_detector(monkeypatch) -> None:
    from privacy_filters.dlp import scanner
    from privacy_filters.dlp.limits import Limits
    from privacy_filters.dlp.mime import Budget

    made: list[str] = []

    class Recording(_Counting):
        def __init__(self, eng, text: str) -> None:
            made.append(text)
            super().__init__(eng, text)

    monkeypatch.setattr(scanner, "_Counting", Recording)
    budget = Budget(Limits())
    assert engine().which("Lunch on Friday?") == frozenset()
    assert list(scanner.detect("Lunch on Friday?", None, budget)) == [] and made == []
    hits = list(scanner.detect(TEXT, None, budget))
    assert made == [TEXT] and hits and budget.candidates == 3  # the candidate detector reads its anchors once
