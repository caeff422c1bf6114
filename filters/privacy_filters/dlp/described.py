"""Secrets named by what they open rather than by a password word (symbol `password.opens`).

Two shapes: a code for a lock-like thing followed in the same clause by a short number
("the keypad on the garden gate takes 5821", "Le code du portail est le 8842"), and a
secret-looking value given as the way in ("get into the admin page with Tr4il-Mix9",
"Mit Wiese8Blau kommst du ins Portal"). Both need the object or the verb of entry: a
number alone, or "use code WINTER25", says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from privacy_milter.model import Confidence

from .report import Hit, make_hit

if TYPE_CHECKING:  # patterns.py builds its pattern set from the words below
    from .patterns import Engine

# Things that lock, named after "code for the …" (en/de/fr).
_LOCK_NOUNS: Final = (
    r"(?:front\s+|back\s+|side\s+|main\s+)?(?:door|gate|entrance)s?|garage|shed|alarm|safe|locker|lock\s?box|"
    r"key\s?safe|padlock|building|(?:[a-z]+\s?)?room|basement|cellar|bike\s+store|[a-zäöü]*raum|[a-zäöü]*zimmer|salle|"
    r"(?:haus|hinter|neben|keller)?t(?:ü|ue)r|(?:hinter|neben|haupt)?eingang|tor|tresor|schlie(?:ß|ss)fach|"
    r"[a-zäöü]*keller|lager|schloss|(?:[a-z]+\s)?store|alarmanlage|porte|portail|alarme|coffre(?:-fort)?|casier|cadenas|immeuble|"
    r"entr(?:é|e)e|local|cave|bo(?:î|i)te"
)
# Things a short code opens, in English, German and French.
LOCK_WORDS: Final = (
    r"key\s?pad|alarm(?:anlage)?|alarme|lock\s?box|key\s?(?:box|safe)|padlock|combination|combo|"
    r"door\s+entry|entry\s+code|door\s+code|gate\s+code|t(?:ü|ue)rcode|torcode|zahlenschloss|"
    r"schl(?:ü|ue)sseltresor|schl(?:ü|ue)sselkasten|geheimzahl|kombination|digicode|cadenas|"
    r"bo(?:î|i)te\s+(?:à|a)\s+cl(?:é|e)s|code\s+confidentiel|combinaison|"
    r"code\s+(?:du|de\s+la|de\s+l['’]|d['’])\s*(?:porte|portail|alarme|immeuble|garage|entr(?:é|e)e|bo(?:î|i)te)|"
    # "the code for the back door", "der Code für den Hintereingang", "code pour le local"
    r"code\s+(?:for|to|of|f(?:ü|ue)r|zu[mr]?|vom|von|pour)\s+(?:(?:the|our|your|die|den|das|dem|der|"
    r"unsere[nm]?|la|le|les|l['’]|notre)\s*)?(?:[\w-]+\s+){0,2}?(?:" + _LOCK_NOUNS + r")\b"
)
# Verbs of getting in: the value given with them is the way in.
ENTRY_VERBS: Final = (
    r"get\s+in(?:to|\s+to)?|log\s?(?:in|on)(?:\s+to)?|sign\s+in(?:\s*to)?|kommst\s+du|kommen\s+sie|"
    r"einloggen|anmelden|acc(?:è|e)des?|acc(?:é|e)der|te\s+connecter|vous\s+connecter|entrer"
)
_LOCK: Final = re.compile(r"(?i)\b(?:" + LOCK_WORDS + r")")
_CODE_AFTER: Final = re.compile(
    r"(?P<gap>(?:[^\d\n.!?;]|(?<![\d])\d{1,3}(?![\d:/.,]))"
    r"{0,60}?)(?<![\d+€£$#/])(?P<value>\d{4,8}|\d{2}-\d{2}-\d{2})(?P<tail>#|[A-Z]\b)?"
    # nor a model name ("Nokia 6310i"): a lower-case letter straight after the digits
    r"(?![\d/:,.]\d|[a-z]|\s?(?:%|€|£|\$|seconds|secondes|sekunden|minutes|min|h\b|am|pm|uhr|days?|tage))"
    # a year with a lower-case word after it is a date ("2024 renovation"), not a code
    r"(?:(?<!(?<!\d)(?:19|20)\d\d)|(?![ \t]+(?!(?:and|or|then|und|oder|dann|et|ou|puis|please|bitte)\b)"
    r"[a-z]{4,}))")
_GAP_VETO: Final = re.compile(
    r"(?i)\b(?:post|courrier|mail|sms|text|phone|call|meeting|conference|konferenz|r(?:é|e)union|"
    r"id|badge|(?:room|floor|raum|etage|salle|zimmer)\s*(?:no\.?\s*)?\d|ticket|order|invoice|change|chang\w*|(?:ä|ae)nder\w*|"
    r"next|sent|send|geschickt|envoy\w*|ask|demande\w*|fragen?|ref\w*|no\.?|number|nummer|num(?:é|e)ro|"
    r"step|schritt|(?:é|e)tape|zone|zones|sensors?|battery|batterie|model|mod(?:e|è)le)\b")
_CONFERENCE: Final = re.compile(
    r"(?i)\b(?:dial-?in|conference|konferenz|bridge|meeting|besprechung|r(?:é|e)union|webex|zoom|"
    r"teams|passcode|kenncode|toll)\b")
_VALUE: Final = r"(?P<value>[^\s,;()\"'<>]{6,64})"
_ENTRY: Final = re.compile(
    r"(?i)\b(?:" + ENTRY_VERBS + r")\b[^\n.!?]{0,60}?\b(?:use|using|with|mit|avec)\s+" + _VALUE
    + r"|\b(?:use|using|with|mit|avec)\s+" + _VALUE.replace("value", "value2")
    + r"[^\n.!?]{0,8}?\b(?:to\s+)?(?:" + ENTRY_VERBS + r")\b")
# The value given as the way in: letters with digits or symbols (any case, may start with a
# digit), or a passphrase of four words joined by hyphens.
_SECRET: Final = re.compile(
    r"(?=.*\d)(?=.*[a-zA-Zà-ÿ])[\w!#$%&*?@+\-]+|[a-zA-Z]{2,}(?:-[a-zA-Z]{2,}){3,}")
# Letters only, but case flipped like no name is ("oZVCAHRCJ"; not "LinkedIn", "iCloud").
_MIXED_CASE: Final = re.compile(r"(?=\w*[a-z])(?=(?:\w+?[A-Z]){3})[A-Za-z]{8,}")
_SIGN_IN_SERVICE: Final = re.compile(
    r"(?i)(?:office|microsoft|ms|m|win(?:dows)?|google|apple|azure|sso|okta|entra|sap|o)[\d-]*")
_NOT_SECRET: Final = re.compile(r"(?i)^(?:https?:|www\.)|@.*\.|[/\\]|^\d+[a-z]{0,2}$|^\d*fa\b|"
                                r"^(?:sso|oauth|2fa|mfa|otp)")


def find_opened(text: str, engine: "Engine") -> Iterator[Hit]:
    for m in engine.find("opens", text):
        if _CONFERENCE.search(text, _line_before_start(text, m.start), _line_end(text, m.end)):
            continue  # meeting IDs and passcodes of a call (this line or the one above)
        if _LOCK.match(text, m.start):
            found = _CODE_AFTER.match(text, m.end)
            if found is not None and not _GAP_VETO.search(found.group("gap")):
                yield make_hit("password", Confidence.MEDIUM, found.group("value"), "password.opens",
                               m.start)
            continue
        entry = _ENTRY.match(text, m.start)
        if entry is None:
            continue
        value = (entry.group("value") or entry.group("value2") or "").rstrip(".,!?:;")
        # "with Amber91 you get in": a word and digits; not "sign in with Office365"
        if (_SECRET.fullmatch(value) or _MIXED_CASE.fullmatch(value)) and not _NOT_SECRET.search(value) \
                and len(value) >= 6 \
                and not _SIGN_IN_SERVICE.fullmatch(value):
            yield make_hit("password", Confidence.HIGH, value, "password.opens", m.start)


def _line_before_start(text: str, pos: int) -> int:
    """Start of the line before the one holding pos (a heading line counts with its value)."""
    start = text.rfind("\n", 0, pos)
    return 0 if start <= 0 else text.rfind("\n", 0, start) + 1


def _line_end(text: str, pos: int) -> int:
    end = text.find("\n", pos)
    return len(text) if end == -1 else end
