"""Wordings: what a message says, in one language (issue 24's family set).

A wording turns a language's phrases (lang/*.toml) and a Random into a Snip: the sentence
as a person writes it, the same facts as label/value pairs (for tables, CSV, bullets, labels
on the line above), as key=value pairs (for config files), and the truth labels. Written
from how people write such mail, not from the detectors.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import common as v

Lang = dict[str, Any]


@dataclass
class Snip:
    line: str
    labels: tuple[str, ...]
    pairs: list[tuple[str, str]] = field(default_factory=list)
    kv: list[tuple[str, str]] = field(default_factory=list)
    subject_key: str = "s_access"


def _pw(**kw: Any) -> Snip:
    return Snip(labels=("password",), **kw)


def _neg(line: str) -> Snip:
    return Snip(line=line, labels=(), subject_key="s_misc")


def access(L: Lang, r: random.Random) -> Snip:
    s = v.secret(r)
    return _pw(line=L["access"].format(d=r.choice(L["sys"]), v=s),
               pairs=[(L["l_access"], s)], kv=[("access_code", s)])


def door(L: Lang, r: random.Random) -> Snip:
    p = v.pin(r) + r.choice(("", "", "#"))
    return _pw(line=L["door"].format(v=p), pairs=[(L["l_door"], p)], kv=[("door_pin", p)])


def devkey(L: Lang, r: random.Random) -> Snip:
    k = v.device_key(r)
    ssid = r.choice(("Office-5G", "HQ-Guest", "Studio_WiFi", "BT-Hub-7F2C", "Shop-Floor"))
    return _pw(line=L["devkey"].format(d=r.choice(L["devs"]), v=k),
               pairs=[("SSID", ssid), (r.choice(("WPA2", "Key", "WPA key")), k)],
               kv=[("ssid", f'"{ssid}"'), ("psk", f'"{k}"')])


def abbrev(L: Lang, r: random.Random) -> Snip:
    s, u = v.secret(r), v.user(r)
    tag = r.choice(("pw", "pw:", "pwd", "PW"))
    line = r.choice((f"{L['here']} {u} / {tag} {s}", f"{L['here']}\n{u}\n{tag} {s}",
                     f"{tag} {s}"))
    return _pw(line=line, pairs=[("user", u), (tag.rstrip(":"), s)], kv=[("pw", s)])


def login_passwd(L: Lang, r: random.Random) -> Snip:
    s, u = v.secret(r), v.user(r)
    a, b = r.choice((("login", "passwd"), ("login:", "passwd:"), ("Login", "Passwd")))
    return _pw(line=f"{L['here']}\n{a} {u}\n{b} {s}", pairs=[(a.rstrip(":"), u), (b.rstrip(":"), s)],
               kv=[("login", u), ("passwd", s)])


def getin(L: Lang, r: random.Random) -> Snip:
    s = v.secret(r)
    return _pw(line=L["getin"].format(v=s), pairs=[(L["l_access"], s)])


def unlock(L: Lang, r: random.Random) -> Snip:
    s = v.pin(r) if r.random() < 0.4 else v.secret(r)
    return _pw(line=L["unlock"].format(v=s), pairs=[(L["l_access"], s)])


def loginas(L: Lang, r: random.Random) -> Snip:
    s, u = v.secret(r), v.user(r)
    return _pw(line=L["loginas"].format(u=u, v=s), pairs=[(L["l_user"], u), (L["l_access"], s)])


def creds(L: Lang, r: random.Random) -> Snip:
    s, u = v.secret(r), v.user(r)
    sysname = r.choice(("VPN", "Xero", "CRM", "Sage", "NAS", "cPanel", "Wi-Fi"))
    return _pw(line=f"{sysname}: {u} / {s}",
               pairs=[("System", sysname), (L["l_user"], u), (L["l_access"], s)],
               kv=[("user", u), ("secret", s)])


def native(L: Lang, r: random.Random) -> Snip:
    s = v.secret(r)
    return _pw(line=L["pwline"].format(d=r.choice(L["sys"]), v=s),
               pairs=[(L["pw"][:1].upper() + L["pw"][1:], s)])


# ---------------------------------------------------------------------------------------
# UK bank details, cards, IBANs

def _sc(r: random.Random) -> tuple[str, str]:
    sc = v.sort_code(r)
    return sc, v.fmt_sort(sc, r.choice(("-", "-", " ", "")))


def _acc(r: random.Random) -> str:
    a = v.account(r)
    return a if r.random() < 0.8 else f"{a[:4]} {a[4:]}"


def _bank(labels: tuple[str, ...], **kw: Any) -> Snip:
    return Snip(labels=labels, subject_key="s_bank", **kw)


def bank(L: Lang, r: random.Random) -> Snip:
    _, sc = _sc(r)
    acc = _acc(r)
    return _bank(("uk_bank_account",), line=L["bank"].format(sc=sc, acc=acc),
                 pairs=[(L["sc"], sc), (L["acc"], acc)])


def bankrev(L: Lang, r: random.Random) -> Snip:
    _, sc = _sc(r)
    acc = _acc(r)
    return _bank(("uk_bank_account",), line=L["bankrev"].format(sc=sc, acc=acc),
                 pairs=[(L["acc"], acc), (L["sc"], sc)])


def bank_payee(L: Lang, r: random.Random) -> Snip:
    _, sc = _sc(r)
    acc = _acc(r)
    name = r.choice(("Harbour Studio Ltd", "M. Kowalska", "Glen Tarbert Lodge", "Ffion Rees"))
    bankname = r.choice(("Barclays", "Lloyds", "NatWest", "HSBC UK", "Monzo", "Nationwide"))
    pairs = [(L["payee"], name), ("Bank", bankname), (L["sc"], sc), (L["acc"], acc)]
    if r.random() < 0.5:
        pairs[2], pairs[3] = pairs[3], pairs[2]
    return _bank(("uk_bank_account",), line=L["bank"].format(sc=sc, acc=acc), pairs=pairs)


def bank_terse(L: Lang, r: random.Random) -> Snip:
    _, sc = _sc(r)
    acc = _acc(r)
    a, b = r.choice((("SC", "AC"), ("s/c", "a/c"), ("Sort", "Acc"), ("sort", "acct"),
                     ("S/C:", "A/C No:")))
    line = r.choice((f"{a} {sc} {b} {acc}", f"{b} {acc} {a} {sc}", f"{a} {sc}\n{b} {acc}",
                     f"{L['here']} {sc} / {acc}"))
    return _bank(("uk_bank_account",), line=line, pairs=[(a, sc), (b, acc)])


def card(L: Lang, r: random.Random) -> Snip:
    c = v.group_card(v.card(r), r.choice((" ", " ", "-", "")))
    return Snip(line=L["card"].format(card=c, exp=v.expiry(r)), labels=("payment_card",),
                pairs=[("Card", c), ("Exp", v.expiry(r))], subject_key="s_misc")


_LANG_COUNTRY = {"en": "GB", "sco": "GB", "cy": "GB", "gd": "GB", "ga": "IE", "cs": "CZ",
                 "da": "DK", "de": "DE", "es": "ES", "et": "EE", "fi": "FI", "fr": "FR",
                 "hr": "HR", "hu": "HU", "it": "IT", "lt": "LT", "lv": "LV", "mt": "MT",
                 "nl": "NL", "pl": "PL", "pt": "PT", "ro": "RO", "sk": "SK", "sl": "SI",
                 "sv": "SE"}


def iban(L: Lang, r: random.Random) -> Snip:
    value = v.iban(r, _LANG_COUNTRY[L["code"]])
    shown = v.group4(value) if r.random() < 0.7 else value
    return Snip(line=L["iban"].format(iban=shown), labels=("iban",),
                pairs=[("IBAN", shown), ("BIC", r.choice(("BARCGB22", "DEUTDEFF", "BNPAFRPP")))],
                subject_key="s_bank")


def access_and_bank(L: Lang, r: random.Random) -> Snip:
    """Two secrets in one message: an access code for the portal and the bank details."""
    a, b = access(L, r), bank(L, r)
    return Snip(line=f"{a.line}\n{b.line}", labels=("password", "uk_bank_account"),
                pairs=a.pairs + b.pairs, subject_key="s_access")


# ---------------------------------------------------------------------------------------
# Hard negatives (label: clean)

def _hex(r: random.Random, n: int) -> str:
    return "".join(r.choice("0123456789abcdef") for _ in range(n))


def _digits(r: random.Random, n: int) -> str:
    return str(r.randint(1, 9)) + "".join(r.choice(string.digits) for _ in range(n - 1))


def neg_policy(L: Lang, r: random.Random) -> Snip:
    return _neg(L["n_policy"])


def neg_reset(L: Lang, r: random.Random) -> Snip:
    url = f"https://accounts.example.com/reset?token={_hex(r, 32)}"
    return _neg(L["n_reset"].format(url=url))


def neg_post(L: Lang, r: random.Random) -> Snip:
    return _neg(r.choice((L["n_post"], L["n_other"], f"{L['n_post']}\n{L['n_other']}")))


def neg_meeting(L: Lang, r: random.Random) -> Snip:
    mid = r.choice((f"{_digits(r, 3)} {_digits(r, 4)} {_digits(r, 4)}",
                    f"{_digits(r, 3)} {_digits(r, 3)} {_digits(r, 3)} {_digits(r, 3)}"))
    pc = r.choice((_digits(r, 6), "".join(r.choice(string.ascii_letters + string.digits)
                                          for _ in range(6))))
    dial = f"+44 20 7946 0{r.randint(100, 999)},,{mid.replace(' ', '')}#"
    return _neg(L["n_meet"].format(mid=mid, pc=pc) + f"\n{dial}")


def neg_order(L: Lang, r: random.Random) -> Snip:
    order = r.choice((f"#{_digits(r, 9)}", f"ORD-2025-{_digits(r, 6)}", f"{_digits(r, 3)}-{_digits(r, 7)}-{_digits(r, 7)}"))
    track = r.choice((f"1Z{''.join(r.choice(string.ascii_uppercase + string.digits) for _ in range(6))}{_digits(r, 10)}",
                      f"{r.choice(('JD', 'RK', 'AB'))}{_digits(r, 9)}GB", _digits(r, 14)))
    return _neg(L["n_order"].format(o=order, t=track))


def _imei(r: random.Random) -> str:
    body = "35" + "".join(r.choice(string.digits) for _ in range(12))
    return body + v.luhn_digit(body)


def _isbn(r: random.Random) -> str:
    body = "978" + "".join(r.choice(string.digits) for _ in range(9))
    check = (10 - sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:8]}-{body[8:]}-{check}"


def neg_ids(L: Lang, r: random.Random) -> Snip:
    guid = f"{_hex(r, 8)}-{_hex(r, 4)}-4{_hex(r, 3)}-a{_hex(r, 3)}-{_hex(r, 12)}"
    items = [f"IMEI: {_imei(r)}", f"ISBN {_isbn(r)}", f"GUID {{{guid}}}",
             f"v{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}-b{r.randint(1, 9)}",
             f"commit {_hex(r, 40)}", f"Serial: SN{_digits(r, 10)}"]
    return _neg(L["here"] + "\n" + "\n".join(r.sample(items, 3)))


def _phone(r: random.Random) -> str:
    tail = f"{r.randint(0, 999):03d}"
    return r.choice((f"020 79460{tail}", f"020 7946 0{tail}", f"+44 20 7946 0{tail}",
                     f"0161 496 0{tail}", f"07700 900{tail}", f"0113 496 0{tail}"))


def neg_phone_date(L: Lang, r: random.Random) -> Snip:
    ymd = f"2025{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
    return _neg(f"{L['n_phone'].format(p=_phone(r))} {r.randint(1, 28):02d}/{r.randint(1, 12):02d}/2025, "
                f"{ymd}, {r.randint(8, 17)}:{r.choice(('00', '15', '30', '45'))}")


def neg_sort_alone(L: Lang, r: random.Random) -> Snip:
    _, sc = _sc(r)
    return _neg(L["n_scalone"].format(sc=sc))


def neg_masked(L: Lang, r: random.Random) -> Snip:
    last = f"{r.randint(0, 9999):04d}"
    items = [L["n_masked"].format(m=r.choice((last, f"**** {last}", f"xxxx-xxxx-xxxx-{last}"))),
             f"{L['l_access']}: ********", f"{L['acc']}: ****{last}",
             f"{L['pw'][:1].upper()}{L['pw'][1:]}: ••••••••", f"{L['sc']}: **-**-{last[:2]}"]
    return _neg("\n".join(r.sample(items, 2)))


def neg_placeholder(L: Lang, r: random.Random) -> Snip:
    items = [f"{L['l_user']}: <your-name>\n{L['l_access']}: <code>",
             f"{L['pw'][:1].upper()}{L['pw'][1:]}: XXXXXXXX", f"{L['sc']}: 00-00-00\n{L['acc']}: 00000000",
             f"{L['l_door']}: ____", f"{L['sc']}: XX-XX-XX, {L['acc']}: XXXXXXXX",
             "user=CHANGEME\nsecret=${SECRET}", "pw <YOUR_CODE_HERE>"]
    return _neg("\n".join(r.sample(items, 2)))


def neg_dates_near_sort(L: Lang, r: random.Random) -> Snip:
    ref = f"{r.randint(10, 28)}-{r.randint(1, 12):02d}-{r.randint(22, 25)}"
    ymd = f"20{r.randint(22, 25)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}"
    line = L["n_changed"].format(ref=ref, ymd=ymd)
    if r.random() < 0.5:
        _, sc = _sc(r)
        line += "\n" + L["n_scalone"].format(sc=sc) + f" ({ymd})"
    return _neg(line)


Wording = Callable[[Lang, random.Random], Snip]
WORDINGS: dict[str, Wording] = {
    "access": access, "door": door, "devkey": devkey, "abbrev": abbrev,
    "login_passwd": login_passwd, "getin": getin, "unlock": unlock, "loginas": loginas,
    "creds": creds, "native": native, "bank": bank, "bankrev": bankrev,
    "bank_payee": bank_payee, "bank_terse": bank_terse, "card": card, "iban": iban,
    "access_and_bank": access_and_bank,
    "neg_policy": neg_policy, "neg_reset": neg_reset, "neg_post": neg_post,
    "neg_meeting": neg_meeting, "neg_order": neg_order, "neg_ids": neg_ids,
    "neg_phone_date": neg_phone_date, "neg_sort_alone": neg_sort_alone,
    "neg_masked": neg_masked, "neg_placeholder": neg_placeholder,
    "neg_dates_near_sort": neg_dates_near_sort,
}
