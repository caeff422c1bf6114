"""Reading the value after a password word: is it there, and does it look like a secret?

A password word ("password", "Kennwort", "mdp", "PIN") is followed by a separator (":",
"is", "lautet", "c'est", a table cell) and a value. `value_after` decides whether that value
is a real secret and how sure we are; `strength` judges a value on its own shape, so that
words around it only change the confidence, never make a plain word a password.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from privacy_milter.model import Confidence

from .report import Hit, make_hit

# Patterns used inline below, compiled once (re.search(str) looks its cache up per call).
_FORMAT_SPEC: Final = re.compile(r"%(?:\w+%|[sd(])")
_CODE_LIKE: Final = re.compile(r"\w\(|^:|^&#?\w+;|\)\s*;?$|^\$\{?[a-z_]+\}?$|::|->|^[~.]?/|\|")
_HYPHEN_PHRASE: Final = re.compile(r"[A-Za-z]{2,}(?:-[A-Za-z]{2,}){2,}")
_REAL_SYMBOL: Final = re.compile(r"[^\w.\-/']")
_INNER_CAPITAL: Final = re.compile(r"[a-z][A-Z]")
_NAME_CASE: Final = re.compile(r"(?:Mc|Mac|O')?[A-Z][a-z]+")
_FIVE_CONSONANTS: Final = re.compile(r"[^aeiouyäöüéèàâêîôûœ]{5}")
_CODE_PIN_KEY: Final = re.compile(r"(?i)code|pin|key")
_PIN_WORD: Final = re.compile(r"(?i)pin(?:\s+code|\s+number)?|code|geheimzahl")
_CODE_PIN: Final = re.compile(r"(?i)code|pin")
_PIN_ONLY: Final = re.compile(r"(?i)pin")
_WORD_START: Final = re.compile(r"\w")
_LETTER_NEXT: Final = re.compile(r"[ \t]*[A-Za-z]")

# What links a password word to its value: ":" "=" table cells, "is" and its translations,
# "changed to"; up to five linking words may sit before it ("password for the wifi is"), eight
# when the value is plainly a secret.
_SEP_RE: Final = re.compile(
    r"""(?ix)
    (?P<sep>["']?\s*(?::|=>|=|->|→|\t|\|)|\s+[-–]\s|['’]s\b
      |\s+(?:is|was|ist|lautet|est|es|è|é|är|er|jest|je|wordt|sind|are|c['’]est)\b
         (?:\s+(?:now|still|currently|just|simply|nun|jetzt|maintenant|ahora|ora|agora))?\s*:?
      |\s+(?:will\ be|has\ been\ (?:set|changed|reset|updated)\ to|(?:is\ )?set\ to|changed\ to|
            reset\ to|updated\ to)\b\s*:?
      |(?P<to>\s+to\b)
      |(?P<cell>["'”]?[ \t]*[,;])
      |(?P<bare>\s))
    [ \t]*(?P<value>\S{1,128})""")
_GAP_CHARS: Final = re.compile(r"[\w\s'’()\-/]*")
GAP_STOP: Final = re.compile(
    r"(?i)\b(?:must|should|will|can|cannot|can't|could|would|may|might|has|have|had|needs|"
    r"requires?|required|optional|expires?|expired|protected|field|box|manager|policy|rules?|reset|change|"
    r"changed|forgot|forgotten|hint|strength|hash|hashing|hashed|algorithm|length|format|"
    r"complexity|requirements?|prompt|dialog|screen|page|form|file|expiry|expiration|age|"
    r"history|attempts?|encryption|encrypted|salt|database|table|column|parameter|argument|"
    r"option|variable|function)\b|[.!?;,]")
_NEGATIVE_VALUE: Final = re.compile(r"(?i)(?:see|ask|call|text|sent|in\ the|on\ the|attached)\b")
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
# Only the unambiguous words may be followed by a value with no separator at all.
FULL_WORD: Final = re.compile(
    r"(?i)password|passwort|kennwort|wachtwoord|contrase(?:ñ|n)a|senha|mot\s+de\s+passe|"
    r"has(?:ł|l)o|heslo|l(?:ö|o)senord|passord|salasana|adgangskode|пароль|passcode|passphrase|"
    r"(?:wlan|wi-?fi|netzwerk)-?(?:schlüssel|schluessel|kennwort|passwort)|"
    r"code\s+wi-?fi|cl(?:é|e)\s+(?:wi-?fi|wpa|wlan)")
_OPENS_WORD: Final = re.compile(r"(?i)(?:access|door|alarm|entry|gate|safe|unlock)\s+code")
_PASSPHRASE: Final = re.compile(r"[A-Za-z]{2,}(?:-[A-Za-z]{2,}){3,}")
# Languages where the word for "is" is "to": "Hasło to Orchid1975".
_TO_IS: Final = re.compile(r"(?i)has(?:ł|l)o")
_IS_WORDS: Final = frozenset("is ist est es è é är er jest je wordt lautet c'est c’est".split())
# A user name or address in the gap ("password for anna@x.de:"): a word, not punctuation.
_ADDRESS: Final = re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")
# What a PIN belongs to, named before it or in the gap after it ("SIM PIN", "PIN de la carte").
DEVICE: Final = re.compile(
    r"(?i)\b(?:sim|card|karte|carte|tarjeta|phone|handy|mobile|bank|debit|credit|voicemail|"
    r"mailbox|laptop|tablet|router|alarm|safe|puk|ec-?karte|girocard|bankkarte|cb)\b")
_BARE_VALUE: Final = re.compile(r"(?=[^\s]*\d)(?=[^\s]*[A-Za-z])[A-Za-z0-9][^\s=]{5,63}")
AMBIGUOUS: Final = re.compile(r"(?i)pass(?:es)?|pw|pin|mdp|clave|parola|code")
_SHORT: Final = re.compile(r"(?i)pw|pwd|pass|pin|mdp")
CRED_CONTEXT: Final = re.compile(
    r"(?i)\b(?:user(?:name)?|uid|nutzer|identifiant|login|log\ ?in|logon|account|e-?mail|wi-?fi|ssid|network|portal|"
    r"router|admin|credentials?|card|sim|phone|door|alarm|safe|bank|id|benutzer|utilisateur|"
    r"usuario|gebruiker|utente|usu[aá]rio)\b")
_CHANGED: Final = re.compile(r"(?i)\b(?:chang\w*|set|reset|updat\w*|switch\w*|modif\w*)\b")



def _next_line_value(rest: str, end: int) -> str:
    """The value in "your password is below:" is the next non-empty line, alone on it."""
    lines = [ln.strip() for ln in rest[end:].split("\n")[1:4] if ln.strip()]
    value = lines[0] if lines and " " not in lines[0] else ""
    return value if strength(clean(value)) == 2 else ""


class Later:
    """A yes or no worked out on first use, then kept: what only some values need asking."""

    __slots__ = ("_ask", "_answer")

    def __init__(self, ask: Callable[[], object]) -> None:
        self._ask = ask
        self._answer: bool | None = None

    def __bool__(self) -> bool:
        if self._answer is None:
            self._answer = bool(self._ask())
        return self._answer


def value_after(rest: str, word: str, conference: bool | Later, lead: str = "",
                strict: bool = False, paired: bool = False) -> Hit | None:
    """The first separator-and-value after a password word that reads as a real secret."""
    pos = 0
    # "user mkhan pw Gorse81Hill": a short label with no separator, after a user on the line.
    short_bare = bool(_SHORT.fullmatch(word)) and (paired or bool(CRED_CONTEXT.search(lead)))
    pin = bool(_PIN_WORD.fullmatch(word))
    code_word = bool(_CODE_PIN.search(word))  # "alarm code", "PIN": digits after "is" may be one
    while (found := _SEP_RE.search(rest, pos)) is not None:
        pos = found.start() + 1  # overlapping: a value tried as bare may hold the next ":"
        gap = rest[:found.start()]
        if "@" in gap:  # an address needs one
            gap = _ADDRESS.sub("user", gap)
        to = found.group("to") is not None
        bare = found.group("bare") is not None or to
        if bare and gap.strip() and not to:
            continue  # "password for the wifi Falcon1" has no separator: keep looking
        if found.group("cell") is not None and (gap or lead.strip() not in ("", '"', "'") and
                                                not lead.rstrip().endswith(('"', "'", ",", ";"))):
            continue  # a cell separator only between cells: '"password","x"', 'pwd,x'
        sep = found.group("sep").strip().lower()
        raw_digits = clean(found.group("value"))
        # "the alarm code is 2580", "PIN for the card is 8812": digits after "is" are a code
        code_is = code_word and sep.rstrip(":").strip() in _IS_WORDS \
            and raw_digits.isdigit() and 4 <= len(raw_digits) <= 8 and not conference \
            and not tail_word(rest, found.end())
        # "SIM PIN 4821", "PIN de la carte SIM : 2511": a PIN of a named device, any separator
        code_is = code_is or pin and raw_digits.isdigit() and not conference and \
            4 <= len(raw_digits) <= 8 and len(set(raw_digits)) > 1 and len(gap.split()) <= 5 and \
            bool(DEVICE.search(lead[-20:]) or DEVICE.search(gap)) and not tail_word(rest, found.end()) \
            and sep.rstrip(":").strip() in _IS_WORDS | {":", "=", "", "-", "–"}
        if strict and not code_is and (gap.strip() or sep not in (":", "=") and sep not in _IS_WORDS):
            if bare:
                continue  # no separator yet: a later "is" may still follow
            return None
        # Up to five linking words, eight when the value is plainly a secret (checked below):
        # "the password I set up for your account yesterday is …"
        long_gap = len(gap.split()) > 5
        # "the password for the tablet we use at the front desk on Saturdays is …"
        if len(gap.split()) > (12 if sep.rstrip(":").strip() in _IS_WORDS else 8) or GAP_STOP.search(gap) or not _GAP_CHARS.fullmatch(gap) \
                or gap.count("(") != gap.count(")"):
            return None  # linking words only: no code, markup or unclosed brackets
        if to and not _CHANGED.search(lead) and not _TO_IS.fullmatch(word):
            continue  # "to" names a value only after "changed/set the password" (or "hasło to")
        random_pair = short_bare and random_letters(clean(found.group("value")))
        if bare and not to and not code_is and not (short_bare and strength(clean(found.group("value"))) == 2
                                                    or random_pair) and (
                not FULL_WORD.fullmatch(word) or not (
                _BARE_VALUE.fullmatch(clean(found.group("value")))
                or _PASSPHRASE.fullmatch(clean(found.group("value"))))):
            continue  # "pass --quiet to gpg": short words and option-like values prove nothing
        loose_short = AMBIGUOUS.fullmatch(word) and (gap.strip() or sep not in (":", "=", "|", ""))
        if loose_short and not code_is and (gap.strip() or sep not in _IS_WORDS):
            return None  # "the preceding pass is ...": short words need "pass: value"
        formal = sep in (":", "=", "=>", "->", "→", "|", "") and not bare
        value = found.group("value")
        if clean(value).lower() in ("below", "follows", "unten", "ci-dessous", "abajo"):
            value = _next_line_value(rest, found.end())
        if _NEGATIVE_VALUE.match(value) or clean(value).isdigit() and conference:
            return None  # "passcode: 482913" on a dial-in line is for a phone bridge
        tail = rest[found.end():].strip()
        confidence = value_confidence(value, formal, word)
        if (code_is or random_pair) and confidence is None:
            confidence = Confidence.MEDIUM  # "it's anna.k, pass qhvzrtkwpl": a pair, no word
        if long_gap and confidence is not Confidence.HIGH:
            return None
        if loose_short and confidence is not Confidence.HIGH and not code_is:
            return None  # "the new pw is Tiger1973" only with a value that is plainly a secret
        if strict and confidence is not None and (tail[:1].isalnum() or tail[:1] in ("-", "/", "=") or (
                confidence < Confidence.HIGH and not (_PIN_ONLY.fullmatch(word)
                                                      and clean(value).isdigit()
                                                      and 4 <= len(clean(value)) <= 8))):
            return None  # "pw: x1", "PASS: addr2line -f" prove little; "PIN: 4821" does
        if confidence is not None and confidence < Confidence.HIGH and _WORD_START.match(tail):
            return None  # "Password: Update ELF header": a plain word that starts a sentence
        if confidence is not None and (not bare or code_is or random_pair or confidence is Confidence.HIGH):
            return make_hit("password", confidence, clean(value), _rule(word, formal, code_is))
        if not bare:
            return None  # a separator followed by a non-secret: the sentence says something else
    return None


def _rule(word: str, formal: bool, code_is: bool) -> str:
    """The symbol for a password word and its value: what the evidence was."""
    if _OPENS_WORD.search(word):
        return "password.opens"  # "alarm code", "door code": named by what it opens
    if _SHORT.fullmatch(word):
        return "password.short_label"  # pw, pwd, pass, PIN, mdp
    return "password.labelled" if formal else "password.described"


def tail_word(rest: str, end: int) -> bool:
    """A word right after the value: "the PIN is 4 digits long", "code is 1234 characters"."""
    return bool(_LETTER_NEXT.match(rest, end))


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


def value_confidence(raw_value: str, formal: bool, word: str) -> Confidence | None:
    value = clean(raw_value)
    shape = strength(value)
    if shape == 2:
        return Confidence.HIGH if len(value) >= 6 else Confidence.MEDIUM
    if shape == 1 and formal:
        is_code = bool(_CODE_PIN_KEY.search(word))
        if value.isdigit() and len(set(value)) == 1:
            return None  # "PIN: 0000" is a placeholder or a factory default
        if value.isdigit():
            return Confidence.MEDIUM if len(value) >= (4 if is_code else 6) else None
        if len(value) >= 6 and value.isalpha() and not value.islower():
            return Confidence.MEDIUM  # "Password: Sunshine"
        if random_letters(value):
            return Confidence.MEDIUM  # "Kennwort: qhvzrtkwpl": no word is spelt like that
    return None
