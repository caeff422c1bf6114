"""Bank account details: IBANs (ISO 13616) and UK sort code + account number pairs."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from typing import Final

from privacy_milter.model import Confidence

from . import context as ctx
from .lexicon import Lexicon, fold, lexicon
from .modulus import ModulusTable
from .patterns import Engine, Match
from .report import Hit, make_hit
from .validators import IBAN_LENGTHS, iban_ok

# Patterns used inline below, compiled once (re.search(str) looks its cache up per call).
_ACCOUNT_NEXT: Final = re.compile(r" (?:\d{8}|\d{4} \d{4})(?!\d)")

# Specimen IBANs printed in standards, bank documentation and software manuals. People do
# paste them as real payment details (and test data is made from them), so one counts like
# any IBAN unless the text around it says it is an example; then at most medium confidence.
_SPECIMENS = frozenset((
    "GB82WEST12345698765432", "DE89370400440532013000", "FR1420041010050500013M02606",
    "NL91ABNA0417164300", "GB29NWBK60161331926819", "CH9300762011623852957",
    "ES9121000418450200051332", "IT60X0542811101000000123456", "BE68539007547034",
    "AT611904300234573201", "PL61109010140000071219812874", "GB33BUKB20201555555555",
))
# "will change on 08-04-25", "ab 01.07.25": a date, whatever word came before it.
_DATE_LEAD = re.compile(r"\b(?:on|from|until|till|by|since|after|before|dated|am|ab|bis|seit|vom|"
                        r"le|dès|des|depuis|jusqu['’]au|au|du)\s*$")
# "Tel +31 6 56284207", "M 07700 900123": the digits are the end of a phone number.
_PHONE_LEAD = re.compile(r"(?:\+\d{1,3}|\b(?:tel|phone|mobile|mob|cell|fax|handy|t|m)\b\.?:?)"
                         r"[\s\d()\-]*$")
# "020 79460958", "(0161) 4960123": a UK trunk prefix and area code right before the digits
# makes them the subscriber part of a phone number (a sort code never starts "0" and a group).
_AREA_CODE_LEAD: Final = re.compile(r"(?:\b0\d{2,4}|\(0\d{2,4}\))[ \t]?$")
_PAIR_DISTANCE = 160  # characters between a sort code and its account number
# Between a sort code and its account number side by side: a separator, a line break
_SIDE_BY_SIDE: Final = re.compile(r"[ \t]*(?:[/,;:.|\-]|and|und|et)?[ \t]*\n?[ \t>]*")
# "60-16-13 (sort code)": the label after the number
_SORT_AFTER: Final = re.compile(r"(?i)[ \t]*\(?(?:sort[ \-]?code|s/c|bankleitzahl|code guichet)\b")
# What may stand between a bank word and the pair it labels: "ma banque (UK) : ", "pay to "
_LEAD_TAIL: Final = re.compile(r"(?:[\s:.,()\-/?!]|\b(?:uk|is|in|my|ma|mon|to|into|at|sur|auf)\b)*$")
_DATE_SHAPED: Final = re.compile(r"(?:0[1-9]|[12]\d|3[01])[ .\-–/](?:0[1-9]|1[0-2])[ .\-–/]\d\d")
_YYYYMMDD: Final = re.compile(r"(?<!\d)(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?!\d)")


def find_ibans(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("iban", text):
        compact = _iban_at(text, m)
        if compact is None:
            continue
        window = ctx.before(text, m.start, 80) + " " + ctx.after(text, m.end, 40)
        specimen = compact in _SPECIMENS
        if ctx.TEST_WORDS.search(ctx.before(text, m.start, 80 if specimen else 30)):
            continue
        named = bool(ctx.IBAN_WORDS.search(window))
        if text[m.start].islower() and not named and text[m.start + 4:m.start + 5] != " ":
            continue  # lower case and unbroken ("de44...") counts only where a bank word says so
        confidence = Confidence.HIGH if named and not specimen else Confidence.MEDIUM
        rule = "iban.specimen" if specimen else "iban.checksum_context" if named else "iban.checksum"
        yield make_hit("iban", confidence, compact, rule, m.start)


def _iban_at(text: str, m: Match) -> str | None:
    """The IBAN starting at m, cut at its country's length; None unless it validates.

    The pattern may run on into following capitals ("... 00 BIC ..."), so the cut must
    fall where the written IBAN ends: at a separator or the end of the run.
    """
    want = IBAN_LENGTHS.get(text[m.start:m.start + 2].upper())
    if want is None:
        return None
    chars: list[str] = []
    pos = m.start
    while pos < m.end and len(chars) < want:
        ch = text[pos]
        if ch.isalnum():
            chars.append(ch.upper())
        pos += 1
    if len(chars) < want or (pos < len(text) and text[pos].isalnum()):
        return None
    compact = "".join(chars)
    return compact if iban_ok(compact) else None


def find_uk_accounts(text: str, engine: Engine, hits: frozenset[str],
                     table: ModulusTable | None) -> Iterator[Hit]:
    """A sort code and an account number near each other, in either order, on one line or
    on lines of their own, labelled in any lexicon language or not at all. Their being a
    pair is the finding; the words around only set how sure we are (_pair_points), and a
    passing modulus check makes it high."""
    if "sortcode" not in hits or "account" not in hits:
        return
    lex = lexicon()
    accounts = [a for a in engine.find("account", text) if _plausible_account(text, a)]
    if not accounts:
        return
    for sc in engine.find("sortcode", text):
        sort_code = _sort_code(text, sc)
        if sort_code is None:
            continue
        account = _nearest(accounts, sc)
        # the lexicons are asked only about a pair (most six-digit numbers have none near)
        if account is None or _labelled_otherwise(text, sc, "sortcode", lex) \
                or _labelled_otherwise(text, account, "account", lex) \
                or _YYYYMMDD.fullmatch(text, account.start, account.end) \
                and not lex.has("account", fold(ctx.line_before(text, account.start, 25))):
            continue  # "20250314": a date, unless an account word names it
        acct = text[account.start:account.end].replace(" ", "").replace("-", "")
        points, rule = _pair_points(text, sc, account, sort_code[1], lex)
        if points >= 5:
            confidence = Confidence.HIGH
        elif points >= 3:
            confidence = Confidence.MEDIUM
        else:
            continue
        if table is not None:
            verdict = table.check(sort_code[0], acct)
            if verdict is True:
                confidence, rule = Confidence.HIGH, "uk_account.modulus"
            elif verdict is False:
                confidence = Confidence(max(Confidence.LOW, confidence - 1))
                rule = "uk_account.modulus_failed"
        yield make_hit("uk_bank_account", confidence, sort_code[0] + acct, rule, sc.start)


def _pair_points(text: str, sc: Match, account: Match, dashed: bool,
                 lex: Lexicon) -> tuple[int, str]:
    """Evidence that a six- and an eight-digit number are a UK bank detail, and the symbol
    naming the strongest: a sort-code word before the sort code (or "(sort code)" after it,
    or as the heading above) 3; an account word before the account number 2; a bank or
    payment word, or a UK bank's name, around the pair 1; the two side by side (a separator
    or a line break between) 1; the sort code written in its pairs (20-00-00) 1."""
    points, rules = 0, []
    if _sort_code_named(text, sc) or lex.has("sortcode", _lead(text, sc.start)) \
            or _SORT_AFTER.match(text, sc.end):
        points += 3
        rules.append("uk_account.labelled")
    account_lead = _lead(text, account.start)
    if ctx.ACCOUNT_WORDS.search(account_lead) or lex.has("account", account_lead):
        points += 2
        rules.append("uk_account.account_labelled")
    lo, hi = min(sc.start, account.start), max(sc.end, account.end)
    around = text[max(0, lo - 160):hi + 80]
    after = text[hi:hi + 30]
    pair_lead = _LEAD_TAIL.sub("", _lead(text, lo))
    # a bank word on the line before the pair labels it ("BACS payment to J Smith: ..."); a
    # bank's name only right before it ("my Monzo account? ...", not "Lloyds half-year figures")
    if lex.has("bank", ctx.UK_BANK_NAMES.sub(" ", pair_lead)) or lex.ends_with("bank", pair_lead) \
            or lex.ends_with("account", pair_lead) \
            or ctx.BARE_BANK_LEAD.search(ctx.line_before(text, lo, 40)) \
            or ctx.UK_BANK_NAMES.search(after.lower()):
        # "ma banque (UK) : 309457/61528374", "... 61528374 (my Barclays)": a bank word or a
        # bank's name labels the pair
        points += 2
        rules.append("uk_account.bank_labelled")
    elif _bank_near(around.lower(), True) or lex.has("bank", fold(around)):
        points += 1
        rules.append("uk_account.bank_context")
    gap = text[sc.end:account.start] if account.start >= sc.end else text[account.end:sc.start]
    if _SIDE_BY_SIDE.fullmatch(gap):
        points += 1
        rules.append("uk_account.pair")
    date_shaped = bool(_DATE_SHAPED.fullmatch(text, sc.start, sc.end))
    if dashed and not date_shaped:
        points += 1  # written in pairs like a sort code, and not a valid dd-mm-yy date
    if date_shaped and not {"uk_account.labelled", "uk_account.account_labelled",
                            "uk_account.bank_labelled"} & set(rules):
        return 0, "uk_account.pair"  # "14-10-26 40918273": a date unless a word labels it
    return points, rules[0] if rules else "uk_account.pair"


def _lead(text: str, start: int) -> str:
    """The words just before a number on its line (or the line above when it starts its
    line: "Sort code:\n20-00-00"), folded for the lexicon."""
    line = ctx.line_before(text, start, 40)
    if not line.strip(" \t>:"):
        line = ctx.before(text, start, 40)
    # only the words after the last number: "acc 309457 61528374" labels the pair once
    cut = max(line.rfind(d) for d in "0123456789")
    return fold(line[cut + 1:])


def _bank_near(window: str, account_named: bool) -> bool:
    """A bank or payment word, or a UK bank's name when the account number is labelled."""
    return bool(ctx.BANK_WORDS.search(window) or account_named and ctx.UK_BANK_NAMES.search(window))


def _sort_code(text: str, m: Match) -> tuple[str, bool] | None:
    """(six digits, written with separators) when the separators are consistent."""
    raw = text[m.start:m.end]
    if ctx.NOT_ACCOUNT_WORDS.search(ctx.line_before(text, m.start, 60)):
        return None  # "PO 601946", "Company number 123456": labelled as something else
    if _YYYYMMDD.search(text, max(0, m.start - 10), m.start) \
            or _YYYYMMDD.match(text, m.end + 1, m.end + 9):
        return None  # next to a yyyymmdd date: a time or a serial, not a sort code
    digits = "".join(ch for ch in raw if ch.isdigit())
    seps = {ch for ch in raw if not ch.isdigit()}
    if seps and _DATE_LEAD.search(ctx.line_before(text, m.start, 20)):
        return None
    if len(digits) != 6 or len(seps) > 1 or len(raw) not in (6, 8):
        return None
    # A sort code glued to more digits by the same separator is a phone number or a date.
    nxt = text[m.end:m.end + 2]
    prv = text[max(0, m.start - 2):m.start]
    account_next = _ACCOUNT_NEXT.match(text[m.end:m.end + 11])
    if seps and (nxt[:1] in seps and nxt[1:2].isdigit() and not (seps == {" "} and account_next)
                 or prv[1:2] in seps and prv[:1].isdigit()):
        return None  # but "20 00 00 12345678" is a sort code and its account side by side
    return digits, bool(seps)


def _labelled_otherwise(text: str, m: Match, kind: str, lex: Lexicon) -> bool:
    """Labelled as another kind of number in a lexicon language ("Bestellnummer",
    "n° de commande") and not as this kind."""
    short = fold(ctx.line_before(text, m.start, 25))
    return lex.has("negative", short) and not lex.has(kind, short)


def _plausible_account(text: str, m: Match) -> bool:
    """An 8-digit number that is not labelled as some other kind of number."""
    lead = ctx.line_before(text, m.start, 60)
    if ctx.NOT_ACCOUNT_WORDS.search(lead) or _PHONE_LEAD.search(lead) or _AREA_CODE_LEAD.search(lead):
        return False
    if not text[m.start:m.end].isdigit() and (text[m.end:m.end + 2].strip(" -")[:1].isdigit()
                                              or text[max(0, m.start - 2):m.start].strip(" -")[-1:]
                                              .isdigit()):
        return False  # "1234 5678", "1234-5678" inside a longer spaced number (card, phone)
    return text[m.start:m.end] != "00000000"


def _nearest(accounts: list[Match], sc: Match) -> Match | None:
    """The closest account number within reach (accounts are in text order)."""
    best, best_gap = None, _PAIR_DISTANCE + 1
    i = bisect.bisect_left(accounts, sc.start - _PAIR_DISTANCE - 8, key=lambda a: a.start)
    for a in accounts[i:i + 8]:
        gap = a.start - sc.end if a.start >= sc.end else sc.start - a.end
        if 0 <= gap < best_gap:
            best, best_gap = a, gap
    return best


def _sort_code_named(text: str, sc: Match) -> bool:
    """"Sort code" written just before, or as the column heading of a table above."""
    before = ctx.before(text, sc.start, 40)
    if ctx.SORT_CODE_WORDS.search(before) or ctx.SORT_JUST_BEFORE.search(before):
        return True
    above = ctx.before(text, sc.start, 300)
    lines = above.split("\n")
    # A column heading: a short line or one split into cells, not a sentence that mentions
    # sort codes ("never give your sort code and account number to anyone").
    return len(lines) >= 2 and any(
        ctx.SORT_CODE_WORDS.search(line) and ("\t" in line or "|" in line or "," in line
                                              or len(line.split()) <= 6)
        for line in lines[-3:-1])
