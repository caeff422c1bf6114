"""A value on its own: does it look like a secret? (`strength`, `random_letters`)

The candidate detector (candidates.py) and the temporary-password rule judge a value by its
shape first, so that words around it only change the confidence, never make a plain word a
password. `GAP_STOP` lists the words that, between a label and a value, say the sentence is
about something else ("the password field", "password hashing algorithm").
"""

from __future__ import annotations

import re
from typing import Final

# Patterns used inline below, compiled once (re.search(str) looks its cache up per call).
_FORMAT_SPEC: Final = re.compile(r"%(?:\w+%|[sd(])")
_CODE_LIKE: Final = re.compile(r"\w\(|^:|^&#?\w+;|\)\s*;?$|^\$\{?[a-z_]+\}?$|::|->|^[~.]?/|\|")
_HYPHEN_PHRASE: Final = re.compile(r"[A-Za-z]{2,}(?:-[A-Za-z]{2,}){2,}")
_REAL_SYMBOL: Final = re.compile(r"[^\w.\-/']")
_INNER_CAPITAL: Final = re.compile(r"[a-z][A-Z]")
_NAME_CASE: Final = re.compile(r"(?:Mc|Mac|O')?[A-Z][a-z]+")
_FIVE_CONSONANTS: Final = re.compile(r"[^aeiouyäöüéèàâêîôûœ]{5}")

GAP_STOP: Final = re.compile(
    r"(?i)\b(?:must|should|will|can|cannot|can't|could|would|may|might|has|have|had|needs|"
    r"requires?|required|optional|expires?|expired|protected|field|box|manager|policy|rules?|reset|change|"
    r"changed|forgot|forgotten|hint|strength|hash|hashing|hashed|algorithm|length|format|"
    r"complexity|requirements?|prompt|dialog|screen|page|form|file|expiry|expiration|age|"
    r"history|attempts?|encryption|encrypted|salt|database|table|column|parameter|argument|"
    r"option|variable|function)\b|[.!?;,]")
STOP_VALUES: Final = frozenset("""
a an the your my our their his her its this that these those it is was be been being
not no none n/a na nil null empty blank same unchanged different below above attached
sent separately required optional mandatory incorrect invalid wrong correct expired expiring
changed reset protected hidden redacted removed masked secret confidential case-sensitive
here there via by in on at for to from with and or but if as of please see ask call text
sms phone whatsapp signal later tbc tbd unknown needed missing ok okay yes fine still also
needs expires will must should can could would may has have had does did do
ihr ihre dein deine votre vos su sus je jouw uw il la le les el los las o um uma
thanks thank regards cheers best sincerely kind hello hi dear confirm enter repeat
""".split())


def clean(value: str) -> str:
    value = value.strip()
    for _ in range(2):
        if len(value) > 1 and value[0] in "\"'“‘«`" and value[-1] in "\"'”’»`":
            value = value[1:-1]
    # Sentence punctuation after a value is almost never part of it; ? and ! often are.
    while value and value[-1] in ".,;:)]\"'”’»`":
        value = value[:-1]
    while value and value[0] in "\"'“‘«`(":
        value = value[1:]
    return value


def is_placeholder(value: str) -> bool:
    v = value.strip()
    if not v or set(v) <= set("*xX•●.#_-?~·"):
        return True
    if v[0] in "<[{`" or _FORMAT_SPEC.match(v) or v.startswith(("${", "$(", "!vault")):
        return True
    low = v.lower()
    return any(word in low for word in ("password", "passwort", "your", "xxxx", "****",
                                        "redacted", "hidden", "removed", "changeme"))


def strength(value: str) -> int:
    """0: not a secret; 1: could be one (a plain word or digits); 2: looks like one."""
    if is_placeholder(value) or not 4 <= len(value) <= 128:
        return 0
    if value.lower() in STOP_VALUES or value.startswith(("http://", "https://", "www.")):
        return 0
    if _CODE_LIKE.search(value):
        return 0  # code, paths and type lists: getpass(), $var, obj->x, /home/x, string|Buffer
    if "@" in value and "." in value.split("@")[-1]:
        return 0  # an email address: a user name, not a password
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    # Hyphens, apostrophes and dots also join ordinary words (E-Mail, Elliot's, Co.).
    symbol = any(not c.isalnum() and c not in "-'’." for c in value)
    kinds = lower + upper + digit + symbol
    if (lower or upper) and digit or kinds >= 3:
        return 2
    if _HYPHEN_PHRASE.fullmatch(value) or symbol and (
            lower or upper) and len(value) >= 6 and _REAL_SYMBOL.search(value):
        return 2  # passphrases (correct-horse-battery) or letters with real symbols (pa$$word)
    if _INNER_CAPITAL.search(value) and not _NAME_CASE.fullmatch(value):
        return 2  # inner capitals: aBcDeF (but not McDonald)
    return 1


_VOWELS: Final = frozenset("aeiouyäöüéèàâêîôûœ")


def random_letters(value: str) -> bool:
    """Eight or more lower-case letters that no language spells: too few vowels, or five
    consonants in a row (German allows four: "Angstschweiß" is rare and capitalised)."""
    if len(value) < 8 or not value.isalpha() or not value.islower():
        return False
    vowels = sum(ch in _VOWELS for ch in value)
    return vowels / len(value) < 0.2 or _FIVE_CONSONANTS.search(value) is not None
