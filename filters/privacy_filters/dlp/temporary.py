"""Temporary, initial and one-time secrets (symbol `password.temporary`).

People hand out a first password with a note: "Initial login for anna: Kw7-rosa. Change it
when you first sign in", "Startkennwort: ... (bitte sofort ändern)", "mot de passe
provisoire, ... à changer". The word that says it is temporary sits before the noun
(English, German) or after it (French), a user may be named in between ("for anna:"), and
the noun may be "login" or "access" rather than a password word. The note after the value
says nothing against it: it is read up to the value and no further.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from privacy_milter.model import Confidence

from .report import Hit, make_hit
from .values import STOP_VALUES, clean, is_placeholder, random_letters, strength

if TYPE_CHECKING:  # patterns.py builds its pattern set from the words below
    from .patterns import Engine

# "temporary", "initial", "one-time" in English, German and French (German glues it on).
TEMP_WORDS: Final = (
    r"temporary|temp|initial|one[- ]time|one[- ]off|single[- ]use|provisional|interim|starter|first[- ]time|"
    r"vorl(?:ä|ae)ufige[sn]?|tempor(?:ä|ae)re[sn]?|einmal|erst|start|initiale?[sn]?|"
    r"provisoire|temporaire|(?:à|a)\s+usage\s+unique"
)
SECRET_NOUN: Final = (
    # not a bare "code": "your one-time code is 448210" is a sign-in code a service sends
    r"pass(?:word|wort|code)|kennwort|mot\s+de\s+passe|mdp|pin|code\s+d['’]acc(?:è|e)s|"
    r"access(?:\s+code)?|log-?in|sign-?in|zugang(?:scode)?|anmelde(?:daten|code)|acc(?:è|e)s|identifiant"
)
_SEP: Final = r"[\"']?[ \t]*(?::|=|;|\t|[-–]|,|\bis\b|\bist\b|\blautet\b|\best\b|c['’]est)[ \t]*"
_FOR: Final = r"(?:[ \t]+(?:for|f(?:ü|ue)r|pour|de|von)(?:[ \t]+[^\s:=,]{1,64}){1,4}?)?"
_VALUE: Final = r"[\"']?(?P<value>[^\s,;()<>\"']{4,64})"
_SHAPES: Final = (
    # "Initial login for admin: V", "temporary password is V", "Erstkennwort: V" (glued)
    re.compile(r"(?i)(?<![\w-])(?:" + TEMP_WORDS + r")[ \t-]?(?P<noun>" + SECRET_NOUN + r")"
               + _FOR + _SEP + _VALUE),
    # "mot de passe provisoire, V", "code d'accès temporaire : V"
    re.compile(r"(?i)(?<![\w-])(?P<noun>" + SECRET_NOUN + r")[ \t]+(?:" + TEMP_WORDS + r")"
               + _FOR + _SEP + _VALUE),
)
_PASSWORD_NOUN: Final = re.compile(r"(?i)pass(?:word|wort)|kennwort|mot\s+de\s+passe|mdp")
_CODE_NOUN: Final = re.compile(r"(?i)pin|code.*|pass\s?code|zugangscode|anmeldecode")
_TIME_OR_DATE: Final = re.compile(r"\d{1,2}[:.h]\d{2}|\d{1,4}[/.\-]\d{1,2}[/.\-]\d{2,4}")
_NOT_A_VALUE: Final = re.compile(
    r"(?i)(?:see|ask|call|sent|send|will|wird|sera|envoy|folgt|suit|per|par|by|via|in|on|im|"
    r"dans|attached|below|follows|unten|ci-dessous)\b")


def find_temporary(text: str, engine: "Engine") -> Iterator[Hit]:
    for m in engine.find("temp_word", text):
        line_start = text.rfind("\n", 0, m.start) + 1
        line_end = text.find("\n", m.start)
        line = text[line_start:line_end if line_end != -1 else len(text)]
        for shape in _SHAPES:
            found = shape.search(line, max(0, m.start - line_start - 40))
            if found is None or found.start() > m.end - line_start + 40:
                continue
            confidence = _judge(found.group("value"), found.group("noun"))
            if confidence is not None:
                yield make_hit("password", confidence, clean(found.group("value")),
                               "password.temporary", m.start)
                break


def _judge(raw: str, noun: str) -> Confidence | None:
    value = clean(raw)
    if _NOT_A_VALUE.match(value) or _TIME_OR_DATE.fullmatch(value) or is_placeholder(value):
        return None
    shape = strength(value)
    if shape == 2:
        return Confidence.HIGH if len(value) >= 6 else Confidence.MEDIUM
    if shape == 0 or value.lower() in STOP_VALUES:
        return None
    if value.isdigit():  # "temporary PIN: 4821"; a run of one digit is a placeholder
        return Confidence.MEDIUM if _CODE_NOUN.fullmatch(noun) and 4 <= len(value) <= 8 \
            and len(set(value)) > 1 else None
    if random_letters(value):
        return Confidence.MEDIUM  # "temporary password: qhvzrtkwpl"
    if _PASSWORD_NOUN.fullmatch(noun) and value.isalpha() and not value.islower() and len(value) >= 6:
        return Confidence.MEDIUM  # "Temporary password: Sunflower"
    return None
