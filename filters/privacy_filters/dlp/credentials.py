"""Passwords and keys: a password word followed by a value that looks like a secret, login
pairs ("admin / Copper1997"), private keys, and access tokens by their documented prefixes.

The hard part is what is *not* a password: reset notices, policies, "password-protected",
placeholders (********, <password>), and sentences where "password" is followed by an
ordinary word ("the password field is greyed out"). A value must therefore look like a
secret on its own; words around it only decide how sure we are.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Final

from privacy_milter.model import Confidence

from .described import find_opened
from .patterns import PASSWORD_WORDS, Engine
from .report import Hit, make_hit
from .temporary import find_temporary
from .values import (AMBIGUOUS, CRED_CONTEXT, FULL_WORD, GAP_STOP, Later, clean, strength,
                     value_after, value_confidence, is_placeholder)

# Patterns used inline below, compiled once (re.search(str) looks its cache up per call).
_VALUE_BELOW: Final = re.compile(r"(?i)\b(?:below|follows|unten|ci-dessous|abajo):?\s*$")
_SIX_SAME: Final = re.compile(r"(.)\1{5}")
_EIGHT_SAME: Final = re.compile(r"(.)\1{7}")

_WORD_RE: Final = re.compile(r"(?i)(?:" + PASSWORD_WORDS + r")")
# Words that introduce an example, a rule or a request rather than an actual secret.
_NEGATIVE_BEFORE: Final = re.compile(
    r"(?i)\b(?:e\.g\.|eg|example|for\ instance|such\ as|sample|dummy|placeholder|"
    r"never|don't|do\ not|must|should|policy|requirement|forgot|forgotten|reset\ link|"
    r"weak|strong|bad|common|guess|enter\ your|type\ your)\b")
_CONFERENCE: Final = re.compile(
    r"(?i)\b(?:call-?in|dial-?in|conference|bridge|participant|moderator|host|meeting\ id|"
    r"webex|zoom|teams|toll|access\ number|meeting\ (?:passcode|password|code|link)|webinar|dial)\b")
# A meeting's own passcode: a meeting ID, dial-in or join line on the same or the two lines
# before ("Meeting ID: 812 …\nPasscode: t8sWlA"). Whatever its shape, that value is for the call.
_MEETING: Final = re.compile(
    r"(?i)\b(?:meeting[- ]?(?:id|number|link)|webinar[- ]?id|conference[- ]?id|call[- ]?id|"
    r"id\s+(?:de\s+(?:la\s+)?)?r(?:é|e)union|besprechungs-?id|sitzungs-?id|konferenz-?id|"
    r"dial-?in|call-?in|join\s+(?:the\s+)?(?:meeting|call|webinar)|zoom|webex|teams|gotomeeting)\b")
_CALL_WORD: Final = re.compile(r"(?i)pass\s?code|code|pin|kenncode|password|passwort|kennwort|"
                               r"mot\s+de\s+passe|mdp")
_COMPOUND: Final = re.compile(r"(?i)passwort|kennwort|wachtwoord")
_COMPOUND_HEAD: Final = re.compile(r"(?<![\w-])[A-ZÄÖÜ][a-zäöüß]{2,12}$")
_SHORT_LABEL: Final = re.compile(r"(?i)pw|pwd|pass|mdp")
_HANDLE_LEAD: Final = re.compile(
    r"(?i)(?:\b(?:it['’]?s|is|as|user(?:name)?|login|account|benutzer|utilisateur|c['’]est|ist)\s+"
    r"[a-z][\w.\-]{1,40}|[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+)[ \t]*[,;/][ \t]*$")
_LOGIN_RE: Final = re.compile(
    r"(?i)\b(?:login|log-?in|logon|credentials?|sign[- ]?in|user(?:name)?|wi-?fi|wlan|ssid|"
    r"zugang(?:sdaten)?|benutzer(?:name)?|anmeldung|identifiants?|usuario|utente|"
    r"gebruiker(?:snaam)?)\b"
    r"[^\n]{0,80}?"
    r"(?<![\w.@+\-])(?P<user>[\w.@+\-]{2,64})[ \t]+/[ \t]+(?P<value>\S{4,64})")
_USER_PASS_RE: Final = re.compile(
    r"(?i)(?:user(?:name)?|login)\s*/\s*pass(?:word)?\s*[:=]\s*(?P<user>[\w.@+\-]{2,64})/"
    r"(?P<value>\S{4,64})")
_SETTING_START: Final = re.compile(r"(?:^|[\s\"'{,])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_$")
_SETTING_SEP: Final = re.compile(r"[\"']?[ \t]*(?:=|:)[ \t]*[^\s$%{<]")
_SPECIMEN_HOST: Final = re.compile(r"(?:[\w-]+\.)*(?:example|localhost|myhost|host|server|"
                                   r"hostname|domain|test|invalid)(?:\.|$)")
# A token value: 20+ characters of base64/hex-ish text mixing letters and digits.
_TOKEN_VALUE: Final = re.compile(
    r"""[ \t]*(?:is|=|:|=>)?[ \t]*["'`]?(?P<value>(?=[\w+/=.\-]*\d)(?=[\w+/=.\-]*[A-Za-z])"""
    r"""[\w+/=.\-]{20,200})(?![\w+/=.\-])""")
_PAIR_LEAD: Final = re.compile(r"(?i)(?:[:=]|\bis|\bit's|\bit’s|\bare|\buse|\bwith|\bas|-)\s*$")
_KEY_PATTERNS: Final = ("pem", "aws_id", "aws_secret", "github", "gitlab", "slack", "slack_hook",
                        "stripe", "npm", "sendgrid", "ai_key")
_B64_RUN: Final = re.compile(r"[A-Za-z0-9+/=]{40,}")


def find_credentials(text: str, engine: Engine, hits: frozenset[str]) -> Iterator[Hit]:
    if "pw_word" in hits:
        yield from _labelled(text, engine)
        yield from _header_rows(text, engine)
    if "token_word" in hits:
        yield from _tokens(text, engine)
    if "login_pair" in hits:
        yield from _login_pairs(text, engine)
    for name in _KEY_PATTERNS:
        if name in hits:
            yield from _keys(text, engine, name)
    if "google" in hits:
        for m in engine.find("google", text):
            if m.end < len(text) and (text[m.end].isalnum() or text[m.end] in "_-"):
                continue  # longer than a key: some other identifier
            yield make_hit("password", Confidence.MEDIUM, text[m.start:m.end], "password.key_prefix", m.start)
    if "cred_below" in hits:
        yield from _credentials_below(text, engine)
    if "url_cred" in hits:
        yield from _url_credentials(text, engine)
    if "opens" in hits:
        yield from find_opened(text, engine)
    if "temp_word" in hits:
        yield from find_temporary(text, engine)


def _labelled(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("pw_word", text):
        word = text[m.start:m.end]
        # "WLAN-Passwort" is a password word; "multi-pass" is not: only long words may follow "-".
        before = "_$/.@\\" if FULL_WORD.fullmatch(word) else "_-$/.@\\"
        # DB_PASSWORD=…, "smtp_password": … : a setting named after a password, given a value.
        setting = m.start > 0 and text[m.start - 1] == "_" and bool(
            _SETTING_START.search(text, max(0, m.start - 40), m.start)) and bool(
            _SETTING_SEP.match(text, m.end))
        # German and Dutch join words: "Erstpasswort", "Einmalkennwort", "Beheerderwachtwoord".
        compound = _COMPOUND.fullmatch(word) is not None and _COMPOUND_HEAD.search(
            text, max(0, m.start - 16), m.start) is not None
        if not setting and (m.start > 0 and not compound and _glued(text[m.start - 1], before)
                            or m.end < len(text)
                            and (_glued(text[m.end], "_-(") and not text[m.end - 1].isspace())):
            continue  # part of a longer word or name: "passenger", "multi-pass", "pass_manager"
        line_end = text.find("\n", m.end, m.end + 200)
        rest = text[m.end:line_end if line_end != -1 else m.end + 200]
        if _VALUE_BELOW.search(rest):
            rest = text[m.end:m.end + 300]  # the value sits on a following line
        if rest.strip() in ("", ":") and line_end != -1:
            # "Password:" with the value on the next line, as forms are often laid out.
            start = line_end + 1
            for _ in range(2):  # one blank line may sit between label and value
                if text[start:start + 1] != "\n" and text[start:start + 200].split("\n", 1)[0].strip():
                    break
                nl = text.find("\n", start, start + 200)
                if nl == -1:
                    break
                start = nl + 1
            nxt_end = text.find("\n", start, start + 200)
            nxt = text[start:nxt_end if nxt_end != -1 else start + 200].strip()
            alone = FULL_WORD.fullmatch(word) and not text[
                text.rfind("\n", 0, m.start) + 1:m.start].strip()  # a heading: "Password\n…"
            if (rest.strip() == ":" or alone) and " " not in nxt and nxt and \
                    strength(clean(nxt)) == 2:
                rest = ": " + nxt  # only a secret-looking value stands alone on the next line
        line_start = text.rfind("\n", 0, m.start) + 1
        lead = text[max(line_start, m.start - 60):m.start]
        if _NEGATIVE_BEFORE.search(lead):
            continue
        # "PASS: test 12" in a log: a short word counts under a login or user line, or
        # alone when written "word: value" with a value that is plainly a secret.
        # "it's mgarcia, pass X", "login as j.doe; pw X": a user name just before the label
        paired = bool(_SHORT_LABEL.fullmatch(word) and _HANDLE_LEAD.search(lead))
        strict = bool(AMBIGUOUS.fullmatch(word)) and not setting and not paired and not CRED_CONTEXT.search(
            text[max(0, m.start - 250):m.start])
        if strict and word.lower().startswith("pass"):
            continue  # "PASS: addr2line" in a test log: "pass" needs a login or user line
        # a dial-in nearby: asked only of a value that is all digits (two 300-character searches)
        conference = Later(functools.partial(_near_a_call, text, m.start, rest))
        # as a label of its own line, or on the meeting's line; "One-off password:" is not one
        labels_line = not text[text.rfind("\n", 0, m.start) + 1:m.start].strip(" \t>")
        if _CALL_WORD.fullmatch(word) and (labels_line or _MEETING.search(lead)) \
                and _for_a_meeting(text, m.start, rest):
            continue  # the passcode of a video call is not a credential we guard
        hit = value_after(rest[:160], word, conference, lead, strict, paired)
        if hit is not None:
            yield replace(hit, pos=m.start)


def _near_a_call(text: str, start: int, rest: str) -> bool:
    """Conference words in the 300 characters before the password word or after it on its line."""
    return bool(_CONFERENCE.search(text, max(0, start - 300), start) or _CONFERENCE.search(rest))


def _for_a_meeting(text: str, start: int, rest: str) -> bool:
    """A meeting ID, dial-in or join line on this line (before or after) or the two above."""
    above = start
    for _ in range(3):
        above = text.rfind("\n", 0, max(0, above - 1)) if above > 0 else -1
        if above == -1:
            break
    return bool(_MEETING.search(text, max(0, above, start - 300), start) or _MEETING.search(rest))


def _credentials_below(text: str, engine: Engine) -> Iterator[Hit]:
    """"Login details below:" then the user name and the password on lines of their own."""
    for m in engine.find("cred_below", text):
        line_start = text.rfind("\n", 0, m.start) + 1
        if _NEGATIVE_BEFORE.search(text, line_start, m.start) or GAP_STOP.search(
                text[line_start:m.end].replace(",", " ").replace(".", " ")):
            continue  # "credentials will be sent below", "never share login details:"
        lines = [ln.strip().lstrip(">").strip() for ln in text[m.end:m.end + 300].split("\n")[1:5]]
        lines = [ln for ln in lines if ln][:3]
        for line in lines:
            if " " in line or ":" in line:
                break  # a labelled form ("User: x") is read by the password-word rules
            value = clean(line)
            if strength(value) == 2 and len(value) >= 6:
                yield make_hit("password", Confidence.MEDIUM, value, "password.below", m.start)
                break


def _glued(ch: str, extra: str) -> bool:
    return ch.isalnum() or ch in extra


def _header_rows(text: str, engine: Engine) -> Iterator[Hit]:
    """Tables: a heading row naming a password column, values in the rows below it."""
    seen_rows: set[int] = set()
    for m in engine.find("pw_word", text):
        row_start = text.rfind("\n", 0, m.start) + 1
        if row_start in seen_rows:
            continue
        seen_rows.add(row_start)
        row_end = text.find("\n", m.end)
        row_end = len(text) if row_end == -1 else row_end
        if row_end - row_start > 400:
            continue
        cells = _cells(text[row_start:row_end])
        if len(cells) < 2:
            continue  # a line of prose, not a table row
        column = next((i for i, c in enumerate(cells) if _WORD_RE.fullmatch(c.strip(" \"'"))),
                      None)
        if column is None:
            continue
        below = text[row_end + 1:row_end + 2000].split("\n")[:20]
        for row in below:
            values = _cells(row)
            if len(values) != len(cells):
                break
            confidence = value_confidence(values[column].strip(" \"'"), True, "password")
            if confidence is not None:
                yield make_hit("password", confidence, clean(values[column]), "password.table_column",
                            m.start)


def _cells(row: str) -> list[str]:
    for delimiter in ("\t", "|", ";", ","):
        if delimiter in row:
            return [c.strip() for c in row.strip().strip("|").split(delimiter)]
    return [row]


def _login_pairs(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("login_pair", text):
        compact = _USER_PASS_RE.match(text, m.start, m.end + 1)
        if compact is not None:  # "user/pass: admin/Zx9vBn3m"
            value = clean(compact.group("value"))
            if strength(value) >= 2:
                yield make_hit("password", Confidence.MEDIUM, value, "password.login_pair", m.start)
            continue
        found = _LOGIN_RE.search(text, m.start, m.end + 1)
        if found is None:
            continue
        value = clean(found.group("value"))
        lead = text[m.start:found.start("user")]
        if not _PAIR_LEAD.search(lead):
            continue  # "sign-in sheet / Q3-2001": no word says a login follows
        if strength(value) >= 2 and "/" not in value:
            yield make_hit("password", Confidence.MEDIUM, value, "password.login_pair", m.start)


def _tokens(text: str, engine: Engine) -> Iterator[Hit]:
    """"API key: 9f8e…": a long random-looking value after a token word is key material."""
    for m in engine.find("token_word", text):
        found = _TOKEN_VALUE.match(text[m.end:m.end + 200])
        if found is None:
            continue
        value = found.group("value")
        if is_placeholder(value) or _SIX_SAME.search(value) or "example" in value.lower():
            continue
        yield make_hit("password", Confidence.HIGH, value, "password.token_labelled", m.start)


def _keys(text: str, engine: Engine, name: str) -> Iterator[Hit]:
    for m in engine.find(name, text):
        token = text[m.start:m.end]
        if "EXAMPLE" in token.upper() or _EIGHT_SAME.search(token):
            continue  # documentation specimens and XXXXXXXX fillers
        if name == "pem" and not _B64_RUN.search(text, m.end, m.end + 400):
            continue  # a header quoted in prose, with no key material after it
        yield make_hit("password", Confidence.HIGH, token,
                    "password.private_key" if name == "pem" else "password.key_prefix", m.start)


def _url_credentials(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("url_cred", text):
        token = text[m.start:m.end]
        secret = token.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
        host = token.rsplit("@", 1)[1].lower()
        if strength(secret) < 2 or len(secret) < 6 or _SPECIMEN_HOST.match(host):
            continue  # "https://a:b@example.com" is documentation, not a leak
        yield make_hit("password", Confidence.MEDIUM, token, "password.url_userinfo", m.start)


