"""Candidate-first passwords: find values that look like a secret on their own, then weigh
the evidence around each one (symbols `password.cand_*`, docs/DLP.md).

A label-first rule ("a password word, a colon, a value") needs a new rule for every new way
of writing one. Here the value comes first: a token is a candidate when its shape says
"secret" (length, character classes, no word of any lexicon language) and it is none of the
things that look like one (dates, amounts, phone numbers, postcodes, references, versions,
hashes, GUIDs, file names, host names, placeholders). Then the words around it are read the
way mail is laid out: the same line before it (a key=value pair, a label, "pw X"), the same
line after it ("X is the password"), the line or heading above, the header of its table or
CSV column, a user name or address nearby, and what the words say about access (a device,
a door, signing in) or against it (resets, policies, examples, conference calls, order and
tracking numbers). Confidence follows from the value's strength plus the evidence's.

Only text near a lexicon anchor word (kinds secret, weak, user) is read: a candidate with no
such word within a few lines has no evidence and could never be reported.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import re2

from privacy_milter.model import Confidence

from .lexicon import Lexicon, fold, lexicon
from .patterns import Engine
from .report import Hit, make_hit
from .values import GAP_STOP, clean, is_placeholder, random_letters, strength

# Tokens end at blanks and at table and CSV cell separators ("bob@x.org,Winter2020!")
_TOKEN: Final = re.compile(r"[^\s,;|]{4,80}")
_LINES_BELOW: Final = 3    # a value on a line of its own under its label
_TABLE_ROWS: Final = 20    # rows read under a table or CSV header
_REACH: Final = 300        # characters a "line" spans at most either side of a value
_REGION: Final = 2000      # characters read under one anchor at most

# Shapes that look like a secret but are something else. Each alternative is one kind.
_NOT_SECRET: Final = re.compile(r"""(?ix)
    \d{1,4}[./\-]\d{1,2}[./\-]\d{1,4}                       # a date
  | (?:19|20)\d{2}-?(?:0[1-9]|1[0-2])-?(?:[0-2]\d|3[01])(?:T[\d:]+Z?)?   # yyyymmdd, ISO
  | \d{1,2}(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\d{2,4}
  | \d{1,2}[:h.]\d{2}(?:[:.]\d{2})?(?:am|pm|h|uhr)?           # a time
  | [£$€¥]?[+\-]?\d[\d,.']*(?:k|m|bn|eur|gbp|usd|chf|pln|sek|dkk|czk|huf)?[£$€¥]?   # amount
  | (?:eur|gbp|usd|chf)\d[\d,.]*
  | \+?\(?\d[\d()\-/]{7,}                                     # a phone number
  | (?-i:[A-Z]{1,2}\d[A-Z\d]?(?:\d[A-Z]{2})?)                 # a UK postcode or its half
  | (?-i:\d[A-Z]{2})
  | (?-i:\#?[A-Z]{1,6}[\-_/\#:]?\d{3,}(?:[\-/.]\w+)*)         # a reference: INC-20451, PO12345
  | \#\d+
  | (?-i:[A-Z]{2,}(?:-[A-Z]{2,})*-\d+(?:-\w+)*)                # ticket keys: ABC-DEF-123
  | v?\d+(?:\.\d+){1,3}(?:[\-+.]?[a-z]+\d*)?                   # a version
  | (?:0x)?[0-9a-f]{32}|(?:0x)?[0-9a-f]{40}|(?:0x)?[0-9a-f]{56}|(?:0x)?[0-9a-f]{64}|[0-9a-f]{128}
  | 0x[0-9a-f]+                                                # a hex number
  | (?:sha\d*|md5|sha256):\S+
  | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}   # a GUID
  | 1z[0-9a-z]{16}|[a-z]{2}\d{9}[a-z]{2}                       # tracking: UPS, UPU S10
  | [\w\-]+\.(?:pdf|docx?|xlsx?|csv|txt|png|jpe?g|gif|zip|7z|rar|html?|eml|msg|pptx?|log|
              json|xml|ya?ml|py|js|ts|exe|msi|dmg|iso|tar|gz|tgz|bak|sql|odt|ods|ics|vcf|mp[34])
  | (?:[\w\-]+\.)+(?:com|org|net|uk|de|fr|nl|eu|io|es|it|pl|be|ie|at|ch|se|dk|fi|no|pt|cz|sk|
                     hu|ro|gov|edu|info|biz|co|local|lan|internal|example|test|invalid)
  | [a-z]+://\S*|www\.\S*|[a-z]+:/\S*                          # a URL, "hash:/etc/x"
  | [\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+                            # an address
  | [a-z]:\\\S*|\.{0,2}/\S*|~/\S*                               # a path
  | \d+(?:st|nd|rd|th|x|px|pt|kb|mb|gb|tb|ghz|mhz|kg|km|cm|mm|ml|mah|w|v|hz|mins?|hrs?|s)
""")
# A value in a sentence that is about the secret, not the secret: instructions, policies,
# resets, examples, values given another way. Checked over the candidate's clause.
_AGAINST: Final = re2.compile(
    r"(?i)\b(?:must|should|needs?\s+to|has\s+to|at\s+least|minimum|maximum|characters?|"
    r"letters|digits|symbols|contain|contains|include|expires?|expired|will\s+be\s+sent|"
    r"sent\s+separately|(?:by|via|per)\s+(?:sms|text|phone|post)|in\s+the\s+post|"
    r"forgot|forgotten|reset|change\s+your|policy|requirements?|example|e\.g\.|such\s+as|"
    r"sample|dummy|placeholder|never|don't|do\s+not|weak|strong|common|guess|hint|field|"
    r"manager|vault|protected|promo|discount|voucher|coupon|gift|referral|tracking|order|"
    r"invoice|booking|confirmation|verification|one-time\s+code|otp|2fa|mfa|checkout|basket|"
    r"cart|shop|\d+\s?%\s+off)\b")
_AGAINST_AFTER: Final = re.compile(
    r"(?i)\b(?:example|sample|dummy|placeholder|e\.g|for\s+instance|expired|invalid|old|"
    r"beispiel|exemple|ejemplo|esempio|voorbeeld|checkout|basket|cart|discount|promo|voucher|"
    r"coupon|\d+\s?%\s+off)\b")
# "X is the password", "X (Passwort)", "X ist das Kennwort": copula and article before the word.
_THEN_LABEL: Final = re.compile(
    r"(?i)^[\s\"'`)]*(?:\(|[-–—]\s*|(?:is|was|are|ist|war|est|es|è|é|er|är|je|jest|on|ir|yra|"
    r"=)\s+(?:(?:the|my|our|your|his|her|its|das|dein|ihr|le|la|mon|ton|el|il|o|a|het|de|"
    r"den|det|new|current|neue|neues|nouveau|nouvelle|wifi|wi-fi|wlan|admin)\s+){0,3})$")
_FORMAL_GAP: Final = re.compile(r"^[\w\-]{0,24}[\"'\]\)]?\s*(?:[:=|\t]|=>|->|→)\s*[\"'`]?\s*$"
                                r"|^[\"']\s*[,;]\s*[\"']$")  # a CSV cell: "Password","X"
# a sentence ends at . ! ? ; before a blank, but not after a number ("im 2. OG", "3. Stock")
_STOP: Final = re.compile(r"(?<!\b\d)(?<!\b\d\d)[.!?;](?:\s|$)|[!?;](?:\s|$)")
_LINK_GAP: Final = re.compile(r"^[^\n]{0,80}$")
_ORDINAL: Final = re.compile(r"\b(\d{1,2})\.(?=\s)")  # "im 2. OG": a number, not a stop
_PIN_ANCHOR: Final = re.compile(r"pin|code|kod|cod|koodi|kood|kode|zahl|passcode|tunnusluku|"
                                r"combination|kombination|combinaison")
_SPECIMEN: Final = re.compile(r"(?i)example|sample|dummy|test|\$[a-z_]{3,}\b|^\$\{?[A-Z_]{3,}")
# "password_maps", "password-protected", "pin_length": the word is the head of another name
_GLUED_AFTER: Final = re.compile(r"[_\-][^\W\d_]")
_WORD_AFTER: Final = re.compile(r"[ \t]*[\w-]")
_INNER_SEP: Final = re.compile(r"[\"']?(?:=|:|=>)[\"']?")
# "... is", "... lautet", "... c'est": the gap ends by saying the value follows
_COPULA_END: Final = re.compile(r"(?i)(?:\b(?:is|was|ist|lautet|est|c'est|es|è|é|är|er|je|jest|on|"
                                r"ir|yra|wordt|will\s+be|are|yw|ydy|ydi|hi|huwa|sind|sono|são|van|"
                                r"now|now\s+is|changed\s+to|set\s+to|reset\s+to|here|ici|hier|aqu[ií]|qui|"
                                r"aqui|tutaj|tady|tu)|['’]s)\s*:?\s*$")
# "I've set the wifi password to X", "changed the password to X": "to" after a verb of setting
_SET_BEFORE: Final = re.compile(r"(?i)\b(?:set|changed?|reset|updated?|switched|ge(?:ä|ae)ndert|"
                                r"gesetzt|chang(?:é|e)|modifi(?:é|e)|cambiad[oa]|alterad[oa]|"
                                r"gewijzigd|ingesteld)\b")
# What a label's words may end with before its value: a separator, or nothing at all ("pw X")
_LABEL_END: Final = re.compile(r"(?:[:=|\t\-–—>]|=>|->|→)[\"'`]?\s*$")
# Polish and Czech say "is" with "to": "Hasło to Wrzos2019"
_TO_IS: Final = re.compile(r"\s+to\s*$")
# "2024 renovation": a number followed by a word of the sentence is not a code
_WORD_NEXT: Final = re.compile(r"[ \t]+(?!(?:and|or|then|und|oder|dann|et|ou|puis|please|bitte|"
                               r"for|f(?:ü|u)r|pour)\b)[a-zà-ÿ]{4,}")
_ADDRESS_OR_LINK: Final = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+|\b[a-z][a-z0-9+.\-]*://\S+")
_TAIL_END: Final = re.compile(r"[.!?;,](?:\s|$)|\s[-–—]\s")
# How invitations label a call's secret; a user's own "pw", "mdp", "Kennwort" is not one.
_CALL_LABEL: Final = re.compile(r"passcode|pass code|kenncode|kennung|code|code secret|secret|pin|password|"
                                r"passwort|kennwort|mot de passe|contrasena|wachtwoord|haslo|senha|"
                                r"access code|meeting passcode|meeting password|"
                                r"code d'acces|codigo de acceso|toegangscode|kod dostepu")
# "it's csmith, pass X", "as j.doe; pw X": a login name given just before the label
_HANDLE_BEFORE: Final = re.compile(
    r"(?i)\b(?:it['’]?s|is|as|c['’]est|ist|es|user|login)\s+[a-z][\w.\-@]{1,60}[ \t]*[,;/][ \t]*\S+\s+\S*$")
_MARKUP_START: Final = re.compile(r"^(?:<[^\s<>]{1,20}>)+")
_MARKUP_END: Final = re.compile(r"(?:</?[^\s<>]{1,20}>?)+$")
# Settled without further look: lower-case or capitalised words joined once by an apostrophe,
# hyphen or dot ("we're", "e-mail"), or no letter at all ("10:00", "£300")
_PLAIN: Final = re.compile(r"[A-ZÀ-Þ]?[a-zß-ÿ]+(?:['’\-.][A-ZÀ-Þ]?[a-zß-ÿ]+)[.']?|[^a-zA-Z\u00c0-\u024f]+")
# The same, as a token may be written in a sentence: "(e-mail,", "10:00.", "£300"
_PLAIN_TOKEN: Final = re.compile(r"[\"'(“‘]*(?:[A-ZÀ-Þ]?[a-zß-ÿ]+(?:['’\-][A-ZÀ-Þ]?[a-zß-ÿ]+)?|"
                                 r"[^a-zA-Z\u00c0-\u024f]+)[.,;:!?)\"'”’]*")
_PUNCT: Final = ".,;:!?)(\"'”’“‘"
# Identifiers in hexadecimal, one case: key IDs, fingerprints, commits ("BA0349D2", "0x804A06B1")
_HEX_ID: Final = re.compile(r"(?:0x)?(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{8,}|(?:0x)?(?=[0-9A-F]*[A-F])"
                            r"(?=[0-9A-F]*\d)[0-9A-F]{8,}")
_CODE_BITS: Final = re.compile(r"%[sd]|&\w+=|^=|^\+\w|[{}]")
# A secret's mix: a digit with a letter, an ASCII symbol inside the value, or an inner capital
_ASCII_MIX: Final = re.compile(r"\d|[A-Za-z][!-/:-@\[-`{-~]+[A-Za-z0-9]|[a-z][A-Z]")
# "it's csmith, pass X", "login as d.moss; pass X": a user named just before the label word
_PAIRED: Final = re.compile(
    r"(?i)(?:\b(?:it['’]?s|is|as|user(?:name)?|login|account|benutzer|utilisateur|c['’]est|ist)\s+"
    r"[a-z][\w.\-@]{1,60}|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)[ \t]*[,;/][ \t]*$")
_HANDLE: Final = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
_BULLET: Final = " \t>*-•·"


@dataclass(frozen=True)
class _Anchor:
    start: int
    end: int
    kinds: frozenset[str]
    word: str  # folded


def find_candidates(text: str, engine: Engine) -> Iterator[Hit]:
    lex = lexicon()
    anchors = [a for m in engine.find("cred_lex", text)
               if (a := _anchor(text, m.start, m.end, lex)) is not None]
    if not anchors:
        return
    seen: set[int] = set()
    for lo, hi in _regions(text, anchors):
        for tok in _TOKEN.finditer(text, lo, hi):
            word = tok.group()
            if word.isalpha():
                if len(word) < 6 or len(word) < 8 and word.islower():
                    continue  # most tokens are short plain words: no shape (_shape), no key inside
            elif _PLAIN_TOKEN.fullmatch(word) and not word.strip(_PUNCT).isdigit():
                continue  # but "7302." may be a PIN
            start = _after_inner_key(text, tok.start(), tok.end(), anchors)
            if start in seen:
                continue
            seen.add(start)
            hit = _judge(text, start, tok.end(), anchors, lex)
            if hit is not None:
                yield hit


def _after_inner_key(text: str, start: int, end: int, anchors: list[_Anchor]) -> int:
    """"pwd=Tansy40Moor", "db;uid=x;pwd=Y": a token holding a key and its value is read
    from after the last key's separator; other tokens from their start."""
    inner = [a for a in _between(anchors, start, end) if a.end < end]
    if not inner or "://" in text[start:end] or text.startswith("www.", start):
        return start  # "?promo_code=1UE728" in a link is the link's business
    found = _INNER_SEP.match(text, inner[-1].end, end)
    return found.end() if found is not None else start


def _anchor(text: str, start: int, end: int, lex: Lexicon) -> _Anchor | None:
    """The anchor word at a match, if its language's boundaries allow it there. A match the
    boundaries reject ("admin  Password" read as one phrase, "Lapin") may hold a shorter
    word further on: one more look inside it."""
    for _ in range(2):
        kinds = lex.accepts(text, start, end)
        if kinds and not _GLUED_AFTER.match(text, end) \
                and not ("weak" in kinds and _names_bank_detail(text, end, lex)):
            return _Anchor(start, end, kinds, fold(text[start:end]))
        inner = lex.anchor_re.search(text, start + 1, end + 1) if end - start > 3 else None
        if inner is None:
            return None
        start, end = inner.span()
    return None


def _names_bank_detail(text: str, end: int, lex: Lexicon) -> bool:
    """"Sort code", "account number", "code guichet": a word that names a bank detail (the
    UK account detector's business) even though its last word ("code") could name a secret."""
    return lex.ends_with_bank_word(fold(text[max(0, end - 30):end]))


def _regions(text: str, anchors: list[_Anchor]) -> list[tuple[int, int]]:
    """Merged spans to read: each anchor's line, and below it a few lines when the line is a
    heading or label ("Password:", short) or twenty rows when it is a table's header. Only
    a word that names a secret is read before ("X is the password"); after an ambiguous
    word only what follows it can be its value."""
    spans: list[tuple[int, int]] = []
    for a in anchors:
        line_start = _line_start(text, a.start)
        line_end = _line_end(text, a.end)
        line = text[line_start:line_end]
        start = line_start if "secret" in a.kinds else _token_start(text, a.start, line_start)
        below = _TABLE_ROWS if _cells(line) else _LINES_BELOW \
            if line.rstrip().endswith(":") or len(line.split()) <= 6 else 0
        end = line_end
        for _ in range(below):
            if end >= min(len(text), a.end + _REGION):
                break
            end = _line_end(text, end + 1)
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def _token_start(text: str, pos: int, line_start: int) -> int:
    """Start of the token holding pos: a word inside a link ("?promo_code=1UE7") is read
    as part of the link."""
    start = pos
    while start > max(line_start, pos - 80) and not text[start - 1].isspace():
        start -= 1
    return start


def _shape(value: str, lex: Lexicon) -> str | None:
    """"strong", "medium", "letters", "word" or "pin" when the value could be a secret on
    its own. Plain words are most tokens: they are settled first, by str methods alone."""
    if not 4 <= len(value) <= 64:
        return None
    if value[-1] in ">}]" or value[0] in "<{[":
        return None  # "<set in vault>", "{password}": a placeholder or markup
    if value[-1] in "?!" and value[:-1].isalpha():
        value = value[:-1]  # "vergeten?", "Thanks!": a word ending a sentence
    if value.isdigit():
        return "pin" if len(value) <= 8 and len(set(value)) > 1 else None
    if len(set(value.lower())) <= 2 or _HEX_ID.fullmatch(value) or "\\" in value \
            or _CODE_BITS.search(value):
        return None  # "xxxxxxxxx", key IDs and hashes ("64A2FF6A"), paths, code, format strings
    if value.isalpha():
        if len(value) < 4:
            return None
        if value.islower():  # "qhvzrtkwpl": letters no language spells (weaker: one class)
            return "letters" if random_letters(value) and not lex.is_word(value) else None
        if value.isupper() or value.istitle():  # "Sunshine": only where a key names it
            return "word" if len(value) >= 6 and not lex.is_word(value) \
                and not is_placeholder(value) else None
    if _PLAIN.fullmatch(value):
        return None  # "we're", "e-mail", "10:00", "£300": words with a joiner, or no letter
    if is_placeholder(value) or _NOT_SECRET.fullmatch(value) or lex.is_word(value) \
            or _SPECIMEN.search(value):
        return None
    shape = strength(value)
    if shape == 2 and not _ASCII_MIX.search(value):
        shape = 1  # only an edge symbol or a non-ASCII sign: "+patch", "PÃ¡draig", "Hello!"
    if shape == 2:
        return "strong" if len(value) >= 8 else "medium" if len(value) >= 6 else None
    if shape == 1 and random_letters(value):
        return "letters"
    return None


def _value_of(raw: str) -> str:
    """The value in a token: markup glued to it ("X</p>") and closing brackets of the
    structure around it ('"X"}', "X)]") taken off, then quotes and punctuation (clean)."""
    value = _MARKUP_END.sub("", _MARKUP_START.sub("", raw)) if "<" in raw else raw
    value = value.lstrip(">")  # ">keyring": a quote mark glued to the first word
    for _ in range(3):
        value = clean(value)
        if value and value[-1] in _CLOSES and value.count(value[-1]) > value.count(_CLOSES[value[-1]]):
            value = value[:-1]
        else:
            break
    return value


_CLOSES: Final = {"}": "{", "]": "[", ">": "<", ")": "("}


def _judge(text: str, start: int, end: int, anchors: list[_Anchor], lex: Lexicon) -> Hit | None:
    raw = text[start:end]
    value = _value_of(raw)
    if not value:
        return None
    shape = _shape(value, lex)
    if shape is None:
        return None
    vstart = start + raw.find(value[0])
    vend = vstart + len(value)
    line_start = _line_start(text, vstart)
    line_end = _line_end(text, vend)
    near = _between(anchors, line_start - _REACH, line_end + 1)
    if any(a.start < vend and vstart < a.end for a in near):
        return None  # the token is (or holds) a label word itself
    everywhere, anchors = anchors, near
    evidence = _Evidence()
    before = [a for a in anchors if line_start <= a.start and a.end <= vstart]
    label = before[-1] if before else None
    if label is not None:
        if lex.has("user", fold(text[label.end:vstart])):
            return None  # "Password: X  User: anna42": the value after a user word is a name
        _read_label(text, label, vstart, evidence)
    if not evidence.kinds:
        _read_after(text, anchors, vend, line_end, evidence)
    above_line: tuple[int, int] | None = None
    if not evidence.kinds and not text[line_start:vstart].strip(_BULLET):
        above_line = _read_above(text, anchors, line_start, vend, line_end, evidence)
    if not evidence.kinds:
        _read_column(text, everywhere, line_start, line_end, vstart, evidence)
    if not evidence.kinds:
        return None
    settled = not evidence.weak and shape in _SHAPE_POINTS \
        and evidence.points + _SHAPE_POINTS[shape] >= 5
    _read_surroundings(text, anchors, line_start, line_end, vstart, above_line, evidence, lex,
                       settled)
    if evidence.against:
        return None
    evidence.alone = not _WORD_AFTER.match(text, vend, line_end)
    evidence.number_then_word = bool(_WORD_NEXT.match(text, vend, line_end))
    confidence = _confidence(shape, evidence, value)
    if confidence is None:
        return None
    return make_hit("password", confidence, value, "password.cand_" + evidence.kinds[0], vstart)


@dataclass
class _Evidence:
    kinds: list[str]
    points: int
    weak: bool       # the only label is an ambiguous word (code, key, pass)
    formal: bool     # a key and a separator: "Password: X", "pwd=X", a table column
    pin_label: bool  # the label names a PIN or code: digits may be one
    alone: bool      # nothing but punctuation or a bracket follows the value on its line
    number_then_word: bool  # a lower-case word follows ("2024 renovation works")
    user_word: bool  # a user word or a login name (not only an address) is near
    against: bool
    anchor: str

    def __init__(self) -> None:
        self.kinds, self.points, self.weak, self.formal = [], 0, False, False
        self.pin_label, self.against, self.anchor, self.alone = False, False, "", True
        self.number_then_word = False
        self.user_word = False

    def add(self, kind: str, points: int, anchor: _Anchor | None = None,
            formal: bool = False) -> None:
        self.kinds.append(kind)
        self.points += points
        self.formal = self.formal or formal
        if anchor is not None:
            self.weak = "secret" not in anchor.kinds
            self.pin_label = bool(_PIN_ANCHOR.search(anchor.word))
            self.anchor = anchor.word


def _read_label(text: str, label: _Anchor, vstart: int, ev: _Evidence) -> None:
    """A label word earlier on the same line: a key ("pwd=", "Passwort:") or words linking it."""
    # an address in the gap is a user named there ("für t.berg@firma.de:"), one word
    gap = _ADDRESS_OR_LINK.sub(" user ", text[label.end:vstart])
    # "DB_PASS=", "smtp_pw:": a setting named after the secret says what its value is
    setting = label.start > 0 and text[label.start - 1] == "_"
    strong_word = "secret" in label.kinds or setting
    if setting:
        label = _Anchor(label.start, label.end, label.kinds | {"secret"}, label.word)
    if _FORMAL_GAP.match(gap):
        ev.add("kv_key", 3 if strong_word else 2, label, formal=True)
        return
    # Words between the label and the value must say the value follows: a separator, "is"
    # in the language ("lautet", "c'est", "yw"), or nothing ("pw X"). "passphrase cache
    # (+patch)", "key Oracle9i new features" and "code to OpenSSL?" name no value.
    to_is = _TO_IS.search(gap) is not None
    # nothing between ("pw X") only after a word that names a secret: "key Oracle9i" is prose
    paired = bool(_PAIRED.search(text, max(_line_start(text, label.start), label.start - 80), label.start))
    linked = not gap.strip() and (strong_word or paired) or _LABEL_END.search(gap) \
        or _COPULA_END.search(gap) \
        or to_is and label.word.startswith(("has", "hesl")) \
        or to_is and _SET_BEFORE.search(text, _line_start(text, label.start), label.start)
    if linked and _LINK_GAP.match(gap) and len(gap.split()) <= 12 and not _STOP.search(gap) \
            and not GAP_STOP.search(_ORDINAL.sub(r"\1", gap).replace(",", " ")):
        ev.add("label_same_line", 2 if strong_word else 1, label)


def _read_after(text: str, anchors: list[_Anchor], vend: int, line_end: int,
                ev: _Evidence) -> None:
    """"Tr0ub4dor is the password", "Kiefer9Moor (Passwort)": the label after the value."""
    for a in anchors:
        if vend <= a.start <= line_end and "secret" in a.kinds:
            if _THEN_LABEL.match(text[vend:a.start]):
                ev.add("label_after", 2, a)
            return


def _read_above(text: str, anchors: list[_Anchor], line_start: int, vend: int, line_end: int,
                ev: _Evidence) -> tuple[int, int] | None:
    """The value starts its line; the nearest line above with text (two at most) is a label
    or heading that names a secret: "Your new password:\\n\\n  Kw7-rosa2"."""
    pos = line_start - 1
    for _ in range(3):
        if pos <= 0:
            return None
        start = _line_start(text, pos)
        line = text[start:pos]
        if line.strip(_BULLET):
            label = [a for a in anchors if start <= a.start < pos]
            rest_of_value_line = text[vend:line_end].strip()
            heading = line.rstrip().endswith(":") or len(line.split()) <= 6
            if label and heading and len(rest_of_value_line.split()) <= 3 \
                    and not _cells(line):
                ev.add("header_above", 2 if "secret" in label[-1].kinds else 1, label[-1])
            return (start, pos)
        pos = start - 1
    return None


def _read_column(text: str, anchors: list[_Anchor], line_start: int, line_end: int,
                 vstart: int, ev: _Evidence) -> None:
    """A table or CSV row whose column header above names a secret."""
    row = text[line_start:line_end]
    cells = _cells(row)
    if not cells:
        return
    column = text[line_start:vstart].lstrip(" |").count(_delimiter(row))
    pos = line_start - 1
    for _ in range(_TABLE_ROWS):
        if pos <= 0:
            return
        start = _line_start(text, pos)
        header = _cells(text[start:pos])
        if len(header) != len(cells):
            return
        if column < len(header):
            hstart = start + text[start:pos].find(header[column])
            cell_anchors = _between(anchors, hstart, hstart + len(header[column]))
            # a heading cell names its column ("Password"); "Sort code: 20-00-00" is data
            if cell_anchors and len(header[column].split()) <= 3 \
                    and not any(ch.isdigit() for ch in header[column]):
                ev.add("table_column", 3 if "secret" in cell_anchors[0].kinds else 2,
                       cell_anchors[0], formal=True)
                return
        pos = start - 1


def _read_surroundings(text: str, anchors: list[_Anchor], line_start: int, line_end: int,
                       vstart: int, above: tuple[int, int] | None, ev: _Evidence,
                       lex: Lexicon, settled: bool = False) -> None:
    """What else the text around says: a user named nearby, access to something, or words
    that make the value an instruction, an example or a call's passcode."""
    prev_start = _text_line_above(text, line_start)
    window_start = min(above[0], prev_start) if above else prev_start
    # Against first: it ends the matter. Words inside an address or link say nothing
    # ("bob@example.org", "/reset-password"). Before the value any word against it counts;
    # after it only words that unmake the value itself ("... is just an example"), not a
    # note on what to do ("don't share", "must change it").
    head, tail = _clause(text, line_start, line_end, vstart)
    head, tail = _ADDRESS_OR_LINK.sub(" ", head), _ADDRESS_OR_LINK.sub(" ", tail)
    if _AGAINST.search(head.encode() if head.isascii() else head) or lex.has("negative", fold(head)) \
            or _AGAINST_AFTER.search(tail) \
            or lex.has("negative", fold(tail.split(None, 1)[0] if tail.strip() else "")) \
            or _for_a_call(text, line_start, line_end, window_start, ev, lex):
        ev.against = True
        return
    if settled:
        return  # high whatever else is near: user and access words cannot add to it
    next_end = _text_line_below(text, line_end)
    # user words above, below, or before the value on its line ("Login" in a note after the
    # value is about what to do with it: "(beim ersten Login ändern)")
    users = lex.has("user", fold(text[window_start:vstart])) \
        or lex.has("user", fold(text[line_end:next_end]))
    ev.user_word = bool(users or _HANDLE_BEFORE.search(text[max(line_start, vstart - 80):vstart]))
    if ev.user_word or "@" in text[window_start:next_end] and _HANDLE.search(text, window_start, next_end):
        ev.add("user_nearby", 1)
    if ev.weak and lex.has("access", fold(_ADDRESS_OR_LINK.sub(" ", text[window_start:line_end]))):
        ev.add("access", 1)


def _for_a_call(text: str, line_start: int, line_end: int, window_start: int, ev: _Evidence,
                lex: Lexicon) -> bool:
    """A call's passcode or meeting ID, whatever its shape: conference words on the value's
    own line, or, when the value is labelled the way invitations label theirs ("Passcode",
    "Kenncode", "Password", "code"), on the two lines above. A value labelled "pw" or "mdp"
    under an invitation is somebody's own password and still counts."""
    own_line = fold(text[line_start:line_end])
    if lex.has("conference", own_line):
        return True
    if not (_CALL_LABEL.fullmatch(ev.anchor) or not ev.anchor) or lex.has("access", own_line):
        return False  # "SIM PIN 60650" under an invitation is the phone's
    return lex.has("conference", fold(text[_text_line_above(text, window_start):line_start]))


def _text_line_above(text: str, line_start: int) -> int:
    """Start of the nearest line above with text on it (blank lines skipped, three at most:
    HTML turned to text puts blank lines between <br> lines)."""
    pos = line_start
    for _ in range(4):
        if pos <= 0:
            return 0
        start = _line_start(text, pos - 1)
        if text[start:pos - 1].strip(_BULLET):
            return start
        pos = start
    return pos


def _text_line_below(text: str, line_end: int) -> int:
    """End of the nearest line below with text on it (three blank lines skipped at most)."""
    pos = line_end
    for _ in range(4):
        if pos >= len(text):
            return len(text)
        end = _line_end(text, pos + 1)
        if text[pos + 1:end].strip(_BULLET):
            return end
        pos = end
    return pos


def _clause(text: str, line_start: int, line_end: int, vstart: int) -> tuple[str, str]:
    """The sentence holding the value, up to the value and a few words after it (to the next
    dash, comma or stop): what a negative word must share with the value to count against
    it. A note further on ("- you must change it") is about what to do next, not the value."""
    head = text[line_start:vstart]
    stops = list(_STOP.finditer(head))
    begin = line_start + stops[-1].end() if stops else line_start
    tail = text[vstart:min(line_end, vstart + 60)]
    cut = _TAIL_END.search(tail)
    return text[begin:vstart], tail[:cut.start() if cut else len(tail)]


def _confidence(shape: str, ev: _Evidence, value: str) -> Confidence | None:
    if shape == "pin":
        if ev.number_then_word:
            return None
        # digits are a PIN only with a word that names one and a key or a plain "is"
        if ev.pin_label and not ev.weak and ev.kinds[0] in ("kv_key", "label_same_line",
                                                            "table_column", "header_above"):
            return Confidence.MEDIUM
        if ev.pin_label and "access" in ev.kinds:  # "the safe code is 90817"
            return Confidence.MEDIUM
        return None
    if ev.weak and "access" not in ev.kinds and not ev.user_word:
        return None  # "PASS: addr2line", "code: X": an ambiguous word alone proves nothing
    if shape == "word":
        return Confidence.MEDIUM if ev.formal and not ev.weak and ev.alone else None
    total = ev.points + _SHAPE_POINTS[shape]
    if total >= 5:
        return Confidence.HIGH
    if total >= 4:
        return Confidence.MEDIUM
    return None


def _delimiter(row: str) -> str:
    return next((d for d in ("\t", "|", ";", ",") if d in row), "\t")


_SHAPE_POINTS: Final = {"strong": 3, "medium": 2, "letters": 1}


def _cells(row: str) -> list[str]:
    """A row's cells when it is a table or CSV row (two cells at least), else []: short
    cells only, so that a sentence with a comma is not a row."""
    row = row.strip()
    if not row:
        return []
    delimiter = _delimiter(row)
    if delimiter not in row:
        return []
    cells = [c.strip() for c in row.strip("|").split(delimiter)]
    words = 4 if delimiter in "\t|" else 3
    return cells if len(cells) >= 2 and all(len(c.split()) <= words for c in cells) else []


def _line_end(text: str, pos: int) -> int:
    """End of pos's line, or _REACH characters on when the line is longer (hostile text)."""
    end = text.find("\n", pos, pos + _REACH)
    return min(len(text), pos + _REACH) if end == -1 else end


def _line_start(text: str, pos: int) -> int:
    """Start of pos's line, or _REACH characters back when the line is longer."""
    begin = max(0, pos - _REACH)
    return text.rfind("\n", begin, pos) + 1 or begin


def _between(anchors: list[_Anchor], lo: int, hi: int) -> list[_Anchor]:
    """The anchors starting in [lo, hi) (anchors are in text order)."""
    i = bisect.bisect_left(anchors, lo, key=lambda a: a.start)
    j = bisect.bisect_left(anchors, hi, lo=i, key=lambda a: a.start)
    return anchors[i:j]
