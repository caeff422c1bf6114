"""Passwords and keys. Passwords written by people are found candidate-first
(candidates.py: a value that looks like a secret, then the evidence around it); this module
adds the detectors that are value-first already: private keys and access tokens by their
documented prefixes, credentials in URLs, login pairs ("admin / Copper1997"), a value on
the line under "Login details below:", secrets named by what they open (described.py) and
temporary passwords (temporary.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from privacy_milter.model import Confidence

from .candidates import find_candidates
from .described import find_opened
from .patterns import Engine
from .report import Hit, make_hit
from .temporary import find_temporary
from .values import GAP_STOP, clean, is_placeholder, strength

_SIX_SAME: Final = re.compile(r"(.)\1{5}")
_EIGHT_SAME: Final = re.compile(r"(.)\1{7}")

_NEGATIVE_BEFORE: Final = re.compile(
    r"(?i)\b(?:e\.g\.|eg|example|for\ instance|such\ as|sample|dummy|placeholder|"
    r"never|don't|do\ not|must|should|policy|requirement|forgot|forgotten|reset\ link|"
    r"weak|strong|bad|common|guess|enter\ your|type\ your)\b")
_LOGIN_RE: Final = re.compile(
    r"(?i)\b(?:login|log-?in|logon|credentials?|sign[- ]?in|user(?:name)?|wi-?fi|wlan|ssid|"
    r"zugang(?:sdaten)?|benutzer(?:name)?|anmeldung|identifiants?|usuario|utente|"
    r"gebruiker(?:snaam)?)\b"
    r"[^\n]{0,80}?"
    r"(?<![\w.@+\-])(?P<user>[\w.@+\-]{2,64})[ \t]+/[ \t]+(?P<value>\S{4,64})")
_USER_PASS_RE: Final = re.compile(
    r"(?i)(?:user(?:name)?|login)\s*/\s*pass(?:word)?\s*[:=]\s*(?P<user>[\w.@+\-]{2,64})/"
    r"(?P<value>\S{4,64})")
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
    if "cred_lex" in hits:
        yield from find_candidates(text, engine)
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
    if "cmd_pass" in hits:
        yield from _command_options(text, engine)
    if "opens" in hits:
        yield from find_opened(text, engine)
    if "temp_word" in hits:
        yield from find_temporary(text, engine)


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




_OPTION: Final = re.compile(r"""\s*(-p|--password|--passwd|--pass|-u|--user)(=|[ \t]+)?['"]?([^\s'"]+)""")


def _command_options(text: str, engine: Engine) -> Iterator[Hit]:
    """A secret given as a command-line option. A value glued to -p (mysql -pX) or given to
    --password is one; -p with a space is one only after sshpass (elsewhere it is a port, a
    flag, a path); -u/--user only for its part after "user:" (curl)."""
    for m in engine.find("cmd_pass", text):
        opt = _OPTION.match(text, m.start + (1 if text[m.start].isspace() or text[m.start] in ";|&(" else 0))
        if opt is None:
            continue
        name, sep, value = opt.group(1), opt.group(2) or "", clean(opt.group(3))
        if name in ("-u", "--user"):
            if ":" not in value:
                continue
            value = value.split(":", 1)[1]
        elif name == "-p" and sep and not text[max(0, m.start - 12):m.start].rstrip().endswith("sshpass"):
            continue
        if value.startswith(("$", "%", "/", "~", "-", ".")) or strength(value) < 2 or len(value) < 6:
            continue
        yield make_hit("password", Confidence.MEDIUM, value, "password.command_option", m.start)
