"""Passwords and keys: a password word followed by a value that looks like a secret, login
pairs ("admin / Copper1997"), private keys, and access tokens by their documented prefixes.

The hard part is what is *not* a password: reset notices, policies, "password-protected",
placeholders (********, <password>), and sentences where "password" is followed by an
ordinary word ("the password field is greyed out"). A value must therefore look like a
secret on its own; words around it only decide how sure we are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from privacy_milter.model import Confidence

from .patterns import PASSWORD_WORDS, Engine
from .report import Hit, digest

_WORD_RE: Final = re.compile(r"(?i)(?:" + PASSWORD_WORDS + r")")
# After the password word: up to five linking words, then the separator, then the value.
# "is" and its translations introduce a value; so do ":" "=" and table cells.
_VALUE_RE: Final = re.compile(
    r"""(?ix)
    (?P<gap>(?:[ \t]+(?!(?:is|was|ist|lautet|est|es|è|é|är|er|jest|je|on|wordt|zijn|are|
                        sera|será|sarà|will|must|should|has|have|can|cannot|can't)\b)
               [\w'’.\-]{1,24}){0,5}?)
    [ \t]*
    (?P<sep>:|=|=>|->|→|\t|\||
        \b(?:is|was|ist|lautet|est|es|è|é|är|er|jest|je|wordt)\b(?:[ \t]+(?:now|set\ to|still|
            currently|just|simply|nun|jetzt|maintenant|ahora|ora|agora))?[ \t]*:?
        |\b(?:will\ be|has\ been\ (?:set|changed|reset)\ to|set\ to|changed\ to|reset\ to|
             is\ set\ to)\b[ \t]*:?)
    [ \t]*(?P<value>\S{1,128})""")
# Words that introduce an example, a rule or a request rather than an actual secret.
_NEGATIVE_BEFORE: Final = re.compile(
    r"(?i)\b(?:e\.g\.|eg|example|for\ instance|such\ as|sample|dummy|placeholder|like|"
    r"never|don't|do\ not|must|should|policy|requirement|forgot|forgotten|reset\ link|"
    r"weak|strong|bad|common|guess|enter\ your|type\ your)\b")
_STOP_VALUES: Final = frozenset("""
a an the your my our their his her its this that these those it is was be been being
not no none n/a na nil null empty blank same unchanged different below above attached
sent separately required optional mandatory incorrect invalid wrong correct expired expiring
changed reset protected hidden redacted removed masked secret confidential case-sensitive
here there via by in on at for to from with and or but if as of please see ask call text
sms phone whatsapp signal later tbc tbd unknown needed missing ok okay yes fine still also
needs expires will must should can could would may has have had does did do
ihr ihre dein deine votre vos su sus je jouw uw il la le les el los las o um uma
""".split())
_LOGIN_RE: Final = re.compile(
    r"(?i)\b(?:login|log-?in|logon|credentials?|sign[- ]?in|user(?:name)?)\b[^\n]{0,80}?"
    r"(?<![\w.@+\-])(?P<user>[\w.@+\-]{2,64})[ \t]+/[ \t]+(?P<value>\S{4,64})")
_KEY_PATTERNS: Final = ("pem", "aws_id", "aws_secret", "github", "gitlab", "slack", "slack_hook",
                        "stripe", "npm", "sendgrid", "ai_key")
_B64_RUN: Final = re.compile(r"[A-Za-z0-9+/=]{40,}")


def find_credentials(text: str, engine: Engine, hits: frozenset[str]) -> Iterator[Hit]:
    if "pw_word" in hits:
        yield from _labelled(text, engine)
        yield from _header_rows(text)
    if "login_pair" in hits:
        yield from _login_pairs(text, engine)
    for name in _KEY_PATTERNS:
        if name in hits:
            yield from _keys(text, engine, name)
    if "google" in hits:
        for m in engine.find("google", text):
            yield Hit("password", Confidence.MEDIUM, digest("password", text[m.start:m.end]))
    if "url_cred" in hits:
        yield from _url_credentials(text, engine)


def _labelled(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("pw_word", text):
        if m.start > 0 and text[m.start - 1].isalnum() or m.end < len(text) and (
                text[m.end].isalnum() and not text[m.end - 1].isspace()):
            continue  # part of a longer word: "passenger", "compass", "spinach"
        line_end = text.find("\n", m.end, m.end + 200)
        rest = text[m.end:line_end if line_end != -1 else m.end + 200]
        if rest.strip() == "" and line_end != -1:
            # "Password:" with the value on the next line, as forms are often laid out.
            nxt_end = text.find("\n", line_end + 1, line_end + 200)
            nxt = text[line_end + 1:nxt_end if nxt_end != -1 else line_end + 200].strip()
            if text[max(0, m.end - 1):m.end + 1].strip().endswith(":") or rest.startswith(":"):
                rest = ": " + nxt
        found = _VALUE_RE.match(rest)
        if found is None or re.search(r"[.!?;]\s", found.group("gap")):
            continue
        line_start = text.rfind("\n", 0, m.start) + 1
        lead = text[max(line_start, m.start - 60):m.start]
        if _NEGATIVE_BEFORE.search(lead) or _NEGATIVE_BEFORE.search(found.group("gap")):
            continue
        sep = found.group("sep").strip().lower()
        formal = sep in (":", "=", "=>", "->", "→", "|", "")
        confidence = _value_confidence(found.group("value"), formal, text[m.start:m.end])
        if confidence is not None:
            yield Hit("password", confidence, digest("password", _clean(found.group("value"))))


def _header_rows(text: str) -> Iterator[Hit]:
    """Tables: a heading row naming a password column, values in the rows below it."""
    for heading in re.finditer(r"(?im)^(?P<row>[^\n]{0,200}(?:,|;|\t|\|)[^\n]{0,200})$", text):
        cells = _cells(heading.group("row"))
        column = next((i for i, c in enumerate(cells) if _WORD_RE.fullmatch(c.strip(" \"'"))),
                      None)
        if column is None:
            continue
        below = text[heading.end() + 1:heading.end() + 2000].split("\n")[:20]
        for row in below:
            values = _cells(row)
            if len(values) != len(cells):
                break
            confidence = _value_confidence(values[column].strip(" \"'"), True, "password")
            if confidence is not None:
                yield Hit("password", confidence, digest("password", _clean(values[column])))


def _cells(row: str) -> list[str]:
    for delimiter in ("\t", "|", ";", ","):
        if delimiter in row:
            return [c.strip() for c in row.strip().strip("|").split(delimiter)]
    return [row]


def _login_pairs(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("login_pair", text):
        found = _LOGIN_RE.search(text, m.start, m.end + 1)
        if found is None:
            continue
        value = _clean(found.group("value"))
        if _strength(value) >= 2 and "/" not in value:
            yield Hit("password", Confidence.MEDIUM, digest("password", value))


def _keys(text: str, engine: Engine, name: str) -> Iterator[Hit]:
    for m in engine.find(name, text):
        token = text[m.start:m.end]
        if "EXAMPLE" in token.upper() or re.search(r"(.)\1{7}", token):
            continue  # documentation specimens and XXXXXXXX fillers
        if name == "pem" and not _B64_RUN.search(text, m.end, m.end + 400):
            continue  # a header quoted in prose, with no key material after it
        yield Hit("password", Confidence.HIGH, digest("password", token))


def _url_credentials(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("url_cred", text):
        token = text[m.start:m.end]
        secret = token.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        if _is_placeholder(secret) or secret.lower() in ("password", "pass", "pwd", "secret"):
            continue
        yield Hit("password", Confidence.MEDIUM, digest("password", token))


def _clean(value: str) -> str:
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


def _is_placeholder(value: str) -> bool:
    v = value.strip()
    if not v or set(v) <= set("*xX•●.#_-?~·"):
        return True
    if v[0] in "<[{$%" and v[-1] in ">]}%" or v.startswith(("${", "{{", "<", "%(")):
        return True
    low = v.lower()
    return any(word in low for word in ("password", "passwort", "your", "xxxx", "****",
                                        "redacted", "hidden", "removed", "changeme"))


def _strength(value: str) -> int:
    """0: not a secret; 1: could be one (a plain word or digits); 2: looks like one."""
    if _is_placeholder(value) or not 4 <= len(value) <= 128:
        return 0
    if value.lower() in _STOP_VALUES or value.startswith(("http://", "https://", "www.")):
        return 0
    if "@" in value and "." in value.split("@")[-1]:
        return 0  # an email address: a user name, not a password
    lower = any(c.islower() for c in value)
    upper = any(c.isupper() for c in value)
    digit = any(c.isdigit() for c in value)
    symbol = any(not c.isalnum() for c in value)
    kinds = lower + upper + digit + symbol
    if (lower or upper) and digit or kinds >= 3:
        return 2
    if symbol and (lower or upper) and len(value) >= 6 and not re.fullmatch(r"[A-Za-z]+[-'][a-z]+", value):
        return 2  # passphrases like correct-horse-battery
    if upper and lower and not re.fullmatch(r"[A-Z][a-z]+", value):
        return 2  # inner capitals: aBcDeF
    return 1


def _value_confidence(raw_value: str, formal: bool, word: str) -> Confidence | None:
    value = _clean(raw_value)
    strength = _strength(value)
    if strength == 2:
        return Confidence.HIGH if len(value) >= 6 else Confidence.MEDIUM
    if strength == 1 and formal:
        is_code = bool(re.search(r"(?i)code|pin|key", word))
        if value.isdigit():
            return Confidence.MEDIUM if len(value) >= (4 if is_code else 6) else None
        if len(value) >= 6 and not value.islower():
            return Confidence.MEDIUM  # "Password: Sunshine"
        if len(value) >= 8:
            return Confidence.LOW
    return None
