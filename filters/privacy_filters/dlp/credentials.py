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
from dataclasses import replace
from typing import Final

from privacy_milter.model import Confidence

from .described import find_opened
from .patterns import PASSWORD_WORDS, Engine
from .report import Hit, make_hit

_WORD_RE: Final = re.compile(r"(?i)(?:" + PASSWORD_WORDS + r")")
# What links a password word to its value: ":" "=" table cells, "is" and its translations,
# "changed to"; up to five linking words may sit before it ("password for the wifi is"), eight
# when the value is plainly a secret.
_SEP_RE: Final = re.compile(
    r"""(?ix)
    (?P<sep>["']?\s*(?::|=>|=|->|→|\t|\|)|\s+[-–]\s|['’]s\b
      |\s+(?:is|was|ist|lautet|est|es|è|é|är|er|jest|je|wordt|sind|are)\b
         (?:\s+(?:now|still|currently|just|simply|nun|jetzt|maintenant|ahora|ora|agora))?\s*:?
      |\s+(?:will\ be|has\ been\ (?:set|changed|reset|updated)\ to|(?:is\ )?set\ to|changed\ to|
            reset\ to|updated\ to)\b\s*:?
      |(?P<to>\s+to\b)
      |(?P<cell>["'”]?[ \t]*[,;])
      |(?P<bare>\s))
    [ \t]*(?P<value>\S{1,128})""")
_GAP_CHARS: Final = re.compile(r"[\w\s'’()\-/]*")
_GAP_STOP: Final = re.compile(
    r"(?i)\b(?:must|should|will|can|cannot|can't|could|would|may|might|has|have|had|needs|"
    r"requires?|required|optional|expires?|expired|protected|field|box|manager|policy|rules?|reset|change|"
    r"changed|forgot|forgotten|hint|strength|hash|hashing|hashed|algorithm|length|format|"
    r"complexity|requirements?|prompt|dialog|screen|page|form|file|expiry|expiration|age|"
    r"history|attempts?|encryption|encrypted|salt|database|table|column|parameter|argument|"
    r"option|variable|function)\b|[.!?;,]")
# Words that introduce an example, a rule or a request rather than an actual secret.
_NEGATIVE_BEFORE: Final = re.compile(
    r"(?i)\b(?:e\.g\.|eg|example|for\ instance|such\ as|sample|dummy|placeholder|"
    r"never|don't|do\ not|must|should|policy|requirement|forgot|forgotten|reset\ link|"
    r"weak|strong|bad|common|guess|enter\ your|type\ your)\b")
_NEGATIVE_VALUE: Final = re.compile(r"(?i)(?:see|ask|call|text|sent|in\ the|on\ the|attached)\b")
_CONFERENCE: Final = re.compile(
    r"(?i)\b(?:call-?in|dial-?in|conference|bridge|participant|moderator|host|meeting\ id|"
    r"webex|zoom|teams|toll|access\ number|meeting\ (?:passcode|password|code|link)|webinar|dial)\b")
_STOP_VALUES: Final = frozenset("""
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
_LOGIN_RE: Final = re.compile(
    r"(?i)\b(?:login|log-?in|logon|credentials?|sign[- ]?in|user(?:name)?|wi-?fi|wlan|ssid|"
    r"zugang(?:sdaten)?|benutzer(?:name)?|anmeldung|identifiants?|usuario|utente|"
    r"gebruiker(?:snaam)?)\b"
    r"[^\n]{0,80}?"
    r"(?<![\w.@+\-])(?P<user>[\w.@+\-]{2,64})[ \t]+/[ \t]+(?P<value>\S{4,64})")
_USER_PASS_RE: Final = re.compile(
    r"(?i)(?:user(?:name)?|login)\s*/\s*pass(?:word)?\s*[:=]\s*(?P<user>[\w.@+\-]{2,64})/"
    r"(?P<value>\S{4,64})")
# Only the unambiguous words may be followed by a value with no separator at all.
_FULL_WORD: Final = re.compile(
    r"(?i)password|passwort|kennwort|wachtwoord|contrase(?:ñ|n)a|senha|mot\s+de\s+passe|"
    r"has(?:ł|l)o|heslo|l(?:ö|o)senord|passord|salasana|adgangskode|пароль|passcode|passphrase|"
    r"(?:wlan|wi-?fi|netzwerk)-?(?:schlüssel|schluessel|kennwort|passwort)|"
    r"code\s+wi-?fi|cl(?:é|e)\s+(?:wi-?fi|wpa|wlan)")
_OPENS_WORD: Final = re.compile(r"(?i)(?:access|door|alarm|entry|gate|safe|unlock)\s+code")
_PASSPHRASE: Final = re.compile(r"[A-Za-z]{2,}(?:-[A-Za-z]{2,}){3,}")
# Languages where the word for "is" is "to": "Hasło to Orchid1975".
_TO_IS: Final = re.compile(r"(?i)has(?:ł|l)o")
_SETTING_START: Final = re.compile(r"(?:^|[\s\"'{,])[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_$")
_SETTING_SEP: Final = re.compile(r"[\"']?[ \t]*(?:=|:)[ \t]*[^\s$%{<]")
_IS_WORDS: Final = frozenset("is ist est es è é är er jest je wordt lautet".split())
_BARE_VALUE: Final = re.compile(r"(?=[^\s]*\d)(?=[^\s]*[A-Za-z])[A-Za-z0-9][^\s=]{5,63}")
_AMBIGUOUS: Final = re.compile(r"(?i)pass(?:es)?|pw|pin|mdp|clave|parola|code")
_SHORT: Final = re.compile(r"(?i)pw|pwd|pass|pin|mdp")
_CRED_CONTEXT: Final = re.compile(
    r"(?i)\b(?:user(?:name)?|uid|nutzer|identifiant|login|log\ ?in|logon|account|e-?mail|wi-?fi|ssid|network|portal|"
    r"router|admin|credentials?|card|sim|phone|door|alarm|safe|bank|id|benutzer|utilisateur|"
    r"usuario|gebruiker|utente|usu[aá]rio)\b")
_SPECIMEN_HOST: Final = re.compile(r"(?:[\w-]+\.)*(?:example|localhost|myhost|host|server|"
                                   r"hostname|domain|test|invalid)(?:\.|$)")
_CHANGED: Final = re.compile(r"(?i)\b(?:chang\w*|set|reset|updat\w*|switch\w*|modif\w*)\b")
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


def _labelled(text: str, engine: Engine) -> Iterator[Hit]:
    for m in engine.find("pw_word", text):
        word = text[m.start:m.end]
        # "WLAN-Passwort" is a password word; "multi-pass" is not: only long words may follow "-".
        before = "_$/.@\\" if _FULL_WORD.fullmatch(word) else "_-$/.@\\"
        # DB_PASSWORD=…, "smtp_password": … : a setting named after a password, given a value.
        setting = m.start > 0 and text[m.start - 1] == "_" and bool(
            _SETTING_START.search(text, max(0, m.start - 40), m.start)) and bool(
            _SETTING_SEP.match(text, m.end))
        if not setting and (m.start > 0 and _glued(text[m.start - 1], before) or m.end < len(text)
                            and (_glued(text[m.end], "_-(") and not text[m.end - 1].isspace())):
            continue  # part of a longer word or name: "passenger", "multi-pass", "pass_manager"
        line_end = text.find("\n", m.end, m.end + 200)
        rest = text[m.end:line_end if line_end != -1 else m.end + 200]
        if re.search(r"(?i)\b(?:below|follows|unten|ci-dessous|abajo):?\s*$", rest):
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
            alone = _FULL_WORD.fullmatch(word) and not text[
                text.rfind("\n", 0, m.start) + 1:m.start].strip()  # a heading: "Password\n…"
            if (rest.strip() == ":" or alone) and " " not in nxt and nxt and \
                    _strength(_clean(nxt)) == 2:
                rest = ": " + nxt  # only a secret-looking value stands alone on the next line
        line_start = text.rfind("\n", 0, m.start) + 1
        lead = text[max(line_start, m.start - 60):m.start]
        if _NEGATIVE_BEFORE.search(lead):
            continue
        # "PASS: test 12" in a log: a short word counts under a login or user line, or
        # alone when written "word: value" with a value that is plainly a secret.
        strict = bool(_AMBIGUOUS.fullmatch(word)) and not setting and not _CRED_CONTEXT.search(
            text[max(0, m.start - 250):m.start])
        if strict and word.lower().startswith("pass"):
            continue  # "PASS: addr2line" in a test log: "pass" needs a login or user line
        conference = bool(_CONFERENCE.search(text, max(0, m.start - 300), m.start)
                          or _CONFERENCE.search(rest))
        hit = _value_after(rest[:160], word, conference, lead, strict)
        if hit is not None:
            yield replace(hit, pos=m.start)


def _credentials_below(text: str, engine: Engine) -> Iterator[Hit]:
    """"Login details below:" then the user name and the password on lines of their own."""
    for m in engine.find("cred_below", text):
        line_start = text.rfind("\n", 0, m.start) + 1
        if _NEGATIVE_BEFORE.search(text, line_start, m.start) or _GAP_STOP.search(
                text[line_start:m.end].replace(",", " ").replace(".", " ")):
            continue  # "credentials will be sent below", "never share login details:"
        lines = [ln.strip().lstrip(">").strip() for ln in text[m.end:m.end + 300].split("\n")[1:5]]
        lines = [ln for ln in lines if ln][:3]
        for line in lines:
            if " " in line or ":" in line:
                break  # a labelled form ("User: x") is read by the password-word rules
            value = _clean(line)
            if _strength(value) == 2 and len(value) >= 6:
                yield make_hit("password", Confidence.MEDIUM, value, "password.below", m.start)
                break


def _next_line_value(rest: str, end: int) -> str:
    """The value in "your password is below:" is the next non-empty line, alone on it."""
    lines = [ln.strip() for ln in rest[end:].split("\n")[1:4] if ln.strip()]
    value = lines[0] if lines and " " not in lines[0] else ""
    return value if _strength(_clean(value)) == 2 else ""


def _glued(ch: str, extra: str) -> bool:
    return ch.isalnum() or ch in extra


def _value_after(rest: str, word: str, conference: bool, lead: str = "",
                 strict: bool = False) -> Hit | None:
    """The first separator-and-value after a password word that reads as a real secret."""
    pos = 0
    # "user mkhan pw Gorse81Hill": a short label with no separator, after a user on the line.
    short_bare = bool(_SHORT.fullmatch(word)) and bool(_CRED_CONTEXT.search(lead))
    while (found := _SEP_RE.search(rest, pos)) is not None:
        pos = found.start() + 1  # overlapping: a value tried as bare may hold the next ":"
        gap = rest[:found.start()]
        to = found.group("to") is not None
        bare = found.group("bare") is not None or to
        if bare and gap.strip() and not to:
            continue  # "password for the wifi Falcon1" has no separator: keep looking
        if found.group("cell") is not None and (gap or lead.strip() not in ("", '"', "'") and
                                                not lead.rstrip().endswith(('"', "'", ",", ";"))):
            continue  # a cell separator only between cells: '"password","x"', 'pwd,x'
        sep = found.group("sep").strip().lower()
        raw_digits = _clean(found.group("value"))
        # "the alarm code is 2580", "PIN for the card is 8812": digits after "is" are a code
        code_is = bool(re.search(r"(?i)code|pin", word)) and sep.rstrip(":").strip() in _IS_WORDS \
            and raw_digits.isdigit() and 4 <= len(raw_digits) <= 8 and not conference \
            and not tail_word(rest, found.end())
        if strict and not code_is and (gap.strip() or sep not in (":", "=", "is")):
            if bare:
                continue  # no separator yet: a later "is" may still follow
            return None
        # Up to five linking words, eight when the value is plainly a secret (checked below):
        # "the password I set up for your account yesterday is …"
        long_gap = len(gap.split()) > 5
        # "the password for the tablet we use at the front desk on Saturdays is …"
        if len(gap.split()) > (12 if sep.rstrip(":").strip() in _IS_WORDS else 8) or _GAP_STOP.search(gap) or not _GAP_CHARS.fullmatch(gap) \
                or gap.count("(") != gap.count(")"):
            return None  # linking words only: no code, markup or unclosed brackets
        if to and not _CHANGED.search(lead) and not _TO_IS.fullmatch(word):
            continue  # "to" names a value only after "changed/set the password" (or "hasło to")
        if bare and not to and not (short_bare and _strength(_clean(found.group("value"))) == 2) and (
                not _FULL_WORD.fullmatch(word) or not (
                _BARE_VALUE.fullmatch(_clean(found.group("value")))
                or _PASSPHRASE.fullmatch(_clean(found.group("value"))))):
            continue  # "pass --quiet to gpg": short words and option-like values prove nothing
        loose_short = _AMBIGUOUS.fullmatch(word) and (gap.strip() or sep not in (":", "=", "|", ""))
        if loose_short and not code_is and (gap.strip() or sep != "is"):
            return None  # "the preceding pass is ...": short words need "pass: value"
        formal = sep in (":", "=", "=>", "->", "→", "|", "") and not bare
        value = found.group("value")
        if _clean(value).lower() in ("below", "follows", "unten", "ci-dessous", "abajo"):
            value = _next_line_value(rest, found.end())
        if _NEGATIVE_VALUE.match(value) or conference and _clean(value).isdigit():
            return None  # "passcode: 482913" on a dial-in line is for a phone bridge
        tail = rest[found.end():].strip()
        confidence = _value_confidence(value, formal, word)
        if code_is and confidence is None:
            confidence = Confidence.MEDIUM
        if long_gap and confidence is not Confidence.HIGH:
            return None
        if loose_short and confidence is not Confidence.HIGH and not code_is:
            return None  # "the new pw is Tiger1973" only with a value that is plainly a secret
        if strict and confidence is not None and (tail[:1].isalnum() or tail[:1] in ("-", "/", "=") or (
                confidence < Confidence.HIGH and not (re.fullmatch(r"(?i)pin", word)
                                                      and _clean(value).isdigit()
                                                      and 4 <= len(_clean(value)) <= 8))):
            return None  # "pw: x1", "PASS: addr2line -f" prove little; "PIN: 4821" does
        if confidence is not None and confidence < Confidence.HIGH and re.match(r"\w", tail):
            return None  # "Password: Update ELF header": a plain word that starts a sentence
        if confidence is not None and (not bare or confidence is Confidence.HIGH):
            return make_hit("password", confidence, _clean(value), _rule(word, formal, code_is))
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
    return bool(re.match(r"[ \t]*[A-Za-z]", rest[end:]))


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
        column = next((i for i, c in enumerate(cells) if _WORD_RE.fullmatch(c.strip(" \"'"))),
                      None)
        if column is None or len(cells) < 2:
            continue
        below = text[row_end + 1:row_end + 2000].split("\n")[:20]
        for row in below:
            values = _cells(row)
            if len(values) != len(cells):
                break
            confidence = _value_confidence(values[column].strip(" \"'"), True, "password")
            if confidence is not None:
                yield make_hit("password", confidence, _clean(values[column]), "password.table_column",
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
            value = _clean(compact.group("value"))
            if _strength(value) >= 2:
                yield make_hit("password", Confidence.MEDIUM, value, "password.login_pair", m.start)
            continue
        found = _LOGIN_RE.search(text, m.start, m.end + 1)
        if found is None:
            continue
        value = _clean(found.group("value"))
        lead = text[m.start:found.start("user")]
        if not _PAIR_LEAD.search(lead):
            continue  # "sign-in sheet / Q3-2001": no word says a login follows
        if _strength(value) >= 2 and "/" not in value:
            yield make_hit("password", Confidence.MEDIUM, value, "password.login_pair", m.start)


def _tokens(text: str, engine: Engine) -> Iterator[Hit]:
    """"API key: 9f8e…": a long random-looking value after a token word is key material."""
    for m in engine.find("token_word", text):
        found = _TOKEN_VALUE.match(text[m.end:m.end + 200])
        if found is None:
            continue
        value = found.group("value")
        if _is_placeholder(value) or re.search(r"(.)\1{5}", value) or "example" in value.lower():
            continue
        yield make_hit("password", Confidence.HIGH, value, "password.token_labelled", m.start)


def _keys(text: str, engine: Engine, name: str) -> Iterator[Hit]:
    for m in engine.find(name, text):
        token = text[m.start:m.end]
        if "EXAMPLE" in token.upper() or re.search(r"(.)\1{7}", token):
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
        if _strength(secret) < 2 or len(secret) < 6 or _SPECIMEN_HOST.match(host):
            continue  # "https://a:b@example.com" is documentation, not a leak
        yield make_hit("password", Confidence.MEDIUM, token, "password.url_userinfo", m.start)


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
    if v[0] in "<[{%`" or v.startswith(("${", "$(", "!vault")):
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
    if re.search(r"\w\(|^:|^&|\)\s*;?$|^\$\{?[a-z_]+\}?$|::|->|^[~.]?/|\|", value):
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
    if re.fullmatch(r"[A-Za-z]{2,}(?:-[A-Za-z]{2,}){2,}", value) or symbol and (
            lower or upper) and len(value) >= 6 and re.search(r"[^\w.\-/']", value):
        return 2  # passphrases (correct-horse-battery) or letters with real symbols (pa$$word)
    if re.search(r"[a-z][A-Z]", value) and not re.fullmatch(r"(?:Mc|Mac|O')?[A-Z][a-z]+", value):
        return 2  # inner capitals: aBcDeF (but not McDonald)
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
        if len(value) >= 6 and value.isalpha() and not value.islower():
            return Confidence.MEDIUM  # "Password: Sunshine"
    return None
