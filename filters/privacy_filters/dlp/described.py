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

# Things a short code opens, in English, German and French.
LOCK_WORDS: Final = (
    r"key\s?pad|alarm(?:anlage)?|alarme|lock\s?box|key\s?(?:box|safe)|padlock|combination|combo|"
    r"door\s+entry|entry\s+code|door\s+code|gate\s+code|t(?:ü|ue)rcode|torcode|zahlenschloss|"
    r"schl(?:ü|ue)sseltresor|schl(?:ü|ue)sselkasten|geheimzahl|kombination|digicode|cadenas|"
    r"bo(?:î|i)te\s+(?:à|a)\s+cl(?:é|e)s|code\s+confidentiel|combinaison|"
    r"code\s+(?:du|de\s+la|de\s+l['’]|d['’])\s*(?:porte|portail|alarme|immeuble|garage|entr(?:é|e)e|bo(?:î|i)te)"
)
# Verbs of getting in: the value given with them is the way in.
ENTRY_VERBS: Final = (
    r"get\s+in(?:to|\s+to)?|log\s?(?:in|on)(?:\s+to)?|sign\s+in(?:\s*to)?|kommst\s+du|kommen\s+sie|"
    r"einloggen|anmelden|acc(?:è|e)des?|acc(?:é|e)der|te\s+connecter|vous\s+connecter|entrer"
)
_LOCK: Final = re.compile(r"(?i)\b(?:" + LOCK_WORDS + r")")
_CODE_AFTER: Final = re.compile(
    r"(?P<gap>[^\d\n.!?;]{0,60}?)(?<![\d+€£$#/])(?P<value>\d{4,8}|\d{2}-\d{2}-\d{2})(?P<tail>#|[A-Z]\b)?"
    r"(?![\d/:,.]\d|\s?(?:%|€|£|\$|seconds|secondes|sekunden|minutes|min|h\b|am|pm|uhr|days?|tage))")
_GAP_VETO: Final = re.compile(
    r"(?i)\b(?:post|courrier|mail|sms|text|phone|call|meeting|conference|konferenz|r(?:é|e)union|"
    r"id|badge|room|floor|raum|etage|salle|ticket|order|invoice|change|chang\w*|(?:ä|ae)nder\w*|"
    r"next|new|neue?n?|nouveau|ask|demande\w*|fragen?|ref\w*|no\.?|number|nummer|num(?:é|e)ro|"
    r"step|schritt|(?:é|e)tape|zone|zones|sensors?|battery|batterie|model|mod(?:e|è)le)\b")
_CONFERENCE: Final = re.compile(
    r"(?i)\b(?:dial-?in|conference|konferenz|bridge|meeting|besprechung|r(?:é|e)union|webex|zoom|"
    r"teams|passcode|kenncode|toll)\b")
_VALUE: Final = r"(?P<value>[^\s,;()\"'<>]{6,64})"
_ENTRY: Final = re.compile(
    r"(?i)\b(?:" + ENTRY_VERBS + r")\b[^\n.!?]{0,60}?\b(?:use|using|with|mit|avec)\s+" + _VALUE
    + r"|\b(?:use|using|with|mit|avec)\s+" + _VALUE.replace("value", "value2")
    + r"[^\n.!?]{0,8}?\b(?:to\s+)?(?:" + ENTRY_VERBS + r")\b")
_SECRET: Final = re.compile(r"(?=.*\d)(?=.*[a-zà-ÿ])(?=.*[A-Z#!$%&*?@+\-])\S+")
_NOT_SECRET: Final = re.compile(r"(?i)^(?:https?:|www\.)|@.*\.|^\d|[/\\]")


def find_opened(text: str, engine: "Engine") -> Iterator[Hit]:
    for m in engine.find("opens", text):
        if _CONFERENCE.search(text, max(0, m.start - 200), m.end + 80):
            continue  # meeting IDs and passcodes of a call are for a phone bridge
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
        if _SECRET.fullmatch(value) and not _NOT_SECRET.search(value) and len(value) >= 8:
            yield make_hit("password", Confidence.HIGH, value, "password.opens", m.start)
