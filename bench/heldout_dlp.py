"""A held-out, labelled DLP evaluation set, generated from the category definitions.

    .venv/bin/python bench/heldout_dlp.py OUT_DIR [-n 1500] [--seed 7]
    .venv/bin/python bench/heldout_dlp.py OUT_DIR --suite shapes   # issue 12, seed 1212
    .venv/bin/python bench/eval_dlp.py OUT_DIR --show-errors

Writes NNNNN.eml and labels.jsonl ({"file": ..., "labels": [...]}) like the dev corpus.
Deterministic for a seed. It is written from the definitions of the four categories, not
from the detectors' rules: values are built from the specifications (Luhn and issuer
prefixes, ISO 13616 mod-97, token prefixes as the vendors document them) and dropped into
the kinds of mail people write: business letters, chatty replies with quoted history,
forwards, invoices, bank-detail blocks, forms, several languages; and into hard negatives
(reset notices, policies, placeholders, masked and test cards, phone, order and tracking
numbers). Layouts and encodings vary: plain, quoted-printable, base64, HTML only (tables),
multipart/alternative, .txt/.csv/UTF-16/RTF attachments, DOCX and XLSX built with zipfile.
Every value is synthetic. Generated sets belong under /tmp, not in the repository.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import string
import sys
import zipfile
from collections.abc import Callable
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.utils import format_datetime
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path

# ---------------------------------------------------------------------------------------
# Values from the specifications


def luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


# issuer prefix choices and lengths (public scheme tables)
CARD_SCHEMES = [
    ("Visa", ["4"], [16, 16, 16, 13]),
    ("Mastercard", ["51", "52", "53", "54", "55", "2221", "2300", "2510", "2720"], [16]),
    ("Amex", ["34", "37"], [15]),
    ("Discover", ["6011", "65", "644"], [16]),
    ("JCB", ["3528", "3566", "3589"], [16]),
    ("Diners", ["36", "38", "300", "305"], [14]),
    ("UnionPay", ["62"], [16, 19]),
]
PUBLISHED_TEST_CARDS = ["4111111111111111", "4242424242424242", "5555555555554444",
                        "378282246310005", "6011111111111117", "4012888888881881",
                        "5105105105105100", "3530111333300000"]


def card_number(r: random.Random, scheme: str | None = None) -> tuple[str, str]:
    name, prefixes, lengths = r.choice(CARD_SCHEMES) if scheme is None else next(
        s for s in CARD_SCHEMES if s[0] == scheme)
    prefix = r.choice(prefixes)
    length = r.choice(lengths)
    while True:
        body = prefix + "".join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
        number = body + luhn_digit(body)
        if len(set(number)) > 3:
            return name, number


def luhn_valid_non_card(r: random.Random, length: int, first: str) -> str:
    body = first + "".join(r.choice(string.digits) for _ in range(length - len(first) - 1))
    return body + luhn_digit(body)


def group_card(r: random.Random, number: str, style: str | None = None) -> str:
    style = style or r.choice(["space", "space", "dash", "none", "mixed", "dot"])
    if len(number) == 15:
        groups = [number[:4], number[4:10], number[10:]]
    elif len(number) == 14:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i:i + 4] for i in range(0, len(number), 4)]
    if style == "none":
        return number
    if style == "mixed":
        seps = [r.choice([" ", "-", " - ", "  "]) for _ in groups[1:]]
        if len(set(seps)) == 1:
            seps[0] = "-" if seps[0] != "-" else " "
        return groups[0] + "".join(s + g for s, g in zip(seps, groups[1:]))
    sep = {"space": " ", "dash": "-", "dot": "."}[style]
    return sep.join(groups)


IBAN_BBAN = {  # country: (total length, BBAN shape: a=letter, n=digit, c=alnum)
    "GB": "aaaannnnnnnnnnnnnn", "DE": "nnnnnnnnnnnnnnnnnn", "FR": "nnnnnnnnnnnnnnnnnnnnnnn",
    "ES": "nnnnnnnnnnnnnnnnnnnn", "NL": "aaaannnnnnnnnn", "IT": "annnnnnnnnnnnnnnnnnnnnn",
    "BE": "nnnnnnnnnnnn", "IE": "aaaannnnnnnnnnnnnn", "PL": "nnnnnnnnnnnnnnnnnnnnnnnn",
    "PT": "nnnnnnnnnnnnnnnnnnnnn", "AT": "nnnnnnnnnnnnnnnn", "CH": "nnnnnnnnnnnnnnnnn",
    "SE": "nnnnnnnnnnnnnnnnnnnn", "DK": "nnnnnnnnnnnnnn", "NO": "nnnnnnnnnnn",
    "LU": "nnnnnnnnnnnnnnnn", "FI": "nnnnnnnnnnnnnn", "CZ": "nnnnnnnnnnnnnnnnnnnn",
}
BANK_CODES_GB = ["BARC", "NWBK", "LOYD", "HBUK", "MIDL", "SRLG", "MONZ"]


def iban(r: random.Random, country: str | None = None, valid: bool = True) -> str:
    country = country or r.choice(list(IBAN_BBAN))
    shape = IBAN_BBAN[country]
    if country in ("GB", "IE"):
        bban = r.choice(BANK_CODES_GB) + "".join(r.choice(string.digits) for _ in shape[4:])
    else:
        bban = "".join(r.choice(string.ascii_uppercase) if ch == "a" else
                       r.choice(string.digits) for ch in shape)
    moved = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in moved)) % 97
    if not valid:
        check = (check + r.randint(1, 90)) % 97 + 2
        if check == 98 - int("".join(str(int(c, 36)) for c in moved)) % 97:
            check = (check + 1) % 97 + 2
    return f"{country}{check:02d}{bban}"


def group_iban(r: random.Random, value: str) -> str:
    style = r.choice(["grouped", "grouped", "compact", "lower", "compact"])
    if style == "compact":
        return value
    grouped = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
    return grouped.lower() if style == "lower" else grouped


def bic(r: random.Random, country: str) -> str:
    return "".join(r.choice(string.ascii_uppercase) for _ in range(4)) + country + \
        r.choice(["2L", "22", "33", "XX", "FF"]) + r.choice(["", "XXX"])


def sort_code(r: random.Random) -> str:
    return f"{r.randint(1, 99):02d}{r.randint(0, 99):02d}{r.randint(0, 99):02d}"


def fmt_sort(r: random.Random, sc: str) -> str:
    return r.choice([f"{sc[:2]}-{sc[2:4]}-{sc[4:]}"] * 3 + [f"{sc[:2]} {sc[2:4]} {sc[4:]}", sc,
                                                           f"{sc[:2]}.{sc[2:4]}.{sc[4:]}"])


def account_no(r: random.Random) -> str:
    return str(r.randint(10000000, 99999999))


WORDS = ("falcon tiger maple river copper orchid summit harbor violet marble cobalt "
         "juniper lantern meadow pepper saturn willow yellow zebra amber").split()


def password(r: random.Random) -> str:
    kind = r.randint(0, 6)
    w = r.choice(WORDS)
    if kind == 0:
        return w.capitalize() + str(r.randint(1950, 2024))
    if kind == 1:
        return w.capitalize() + r.choice("!#$%&*") + str(r.randint(10, 99))
    if kind == 2:
        return "".join(r.choice(string.ascii_letters + string.digits + "#%&*!")
                       for _ in range(r.randint(9, 14)))
    if kind == 3:
        return "-".join(r.sample(WORDS, 4))
    if kind == 4:
        return w[0].upper() + w[1:].replace("a", "@").replace("o", "0") + str(r.randint(1, 99))
    if kind == 5:
        return "".join(r.choice(string.ascii_lowercase + string.digits) for _ in range(10))
    return r.choice(WORDS).capitalize() + r.choice(WORDS).capitalize() + str(r.randint(1, 9))


def username(r: random.Random) -> str:
    first = r.choice(FIRST).lower()
    return r.choice([first, f"{first}.{r.choice(LAST).lower()}", f"{first[0]}{r.choice(LAST).lower()}",
                     "admin", f"{first}@{r.choice(DOMAINS)}"])


def token(r: random.Random) -> tuple[str, str]:
    alnum = string.ascii_letters + string.digits
    kind = r.choice(["aws", "github", "slack", "stripe", "google"])
    if kind == "aws":
        return "AWS access key", "AKIA" + "".join(r.choice(string.ascii_uppercase + string.digits)
                                                  for _ in range(16))
    if kind == "github":
        return "GitHub token", "ghp_" + "".join(r.choice(alnum) for _ in range(36))
    if kind == "slack":
        return "Slack bot token", f"xoxb-{r.randint(10**10, 10**12)}-{r.randint(10**10, 10**12)}-" + \
            "".join(r.choice(alnum) for _ in range(24))
    if kind == "stripe":
        return "Stripe key", "sk_live_" + "".join(r.choice(alnum) for _ in range(24))
    return "Maps API key", "AIza" + "".join(r.choice(alnum + "_-") for _ in range(35))


def pem_key(r: random.Random) -> str:
    kind = r.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"])
    lines = ["".join(r.choice(string.ascii_letters + string.digits + "+/") for _ in range(64))
             for _ in range(r.randint(4, 9))]
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----"


# ---------------------------------------------------------------------------------------
# People, companies and filler

FIRST = ("James Olivia Priya Tomasz Lukas Marie Sofia Pieter Giulia Joao Anna Mohammed "
         "Chloe Daniel Hannah Mateo Emma Noah Zofia Kwame").split()
LAST = ("Smith Patel Kowalski Muller Dubois Garcia Jansen Rossi Silva Nowak Brown Okafor "
        "Taylor Evans Schmidt Moreau Lopez Visser Bianchi Santos").split()
DOMAINS = ("acme-logistics.co.uk", "brightwater.de", "northfield.fr", "hollandfresh.nl",
           "kestrel-consulting.com", "lumen.io", "pinewood-estates.co.uk")
COMPANIES = ("Acme Logistics Ltd", "Brightwater GmbH", "Northfield SARL", "Kestrel Consulting",
             "Pinewood Estates", "Lumen Studio", "Harbour & Finch LLP", "Oakridge Builders")


def person(r: random.Random) -> str:
    return f"{r.choice(FIRST)} {r.choice(LAST)}"


def phone(r: random.Random) -> str:
    return r.choice([f"+44 20 7946 {r.randint(0, 9999):04d}", f"0161 496 {r.randint(0, 9999):04d}",
                     f"+49 30 {r.randint(1000000, 9999999)}", f"07700 {r.randint(100000, 999999)}",
                     f"+33 1 {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)} {r.randint(10, 99)}",
                     f"(555) {r.randint(100, 999)}-{r.randint(1000, 9999)}",
                     f"+31 6 {r.randint(10000000, 99999999)}"])


def signature(r: random.Random) -> str:
    name = person(r)
    lines = [r.choice(["Best regards,", "Kind regards,", "Thanks,", "Cheers,", "Mit freundlichen Grüßen",
                       "Cordialement,", "Saludos,", "--"]), name,
             r.choice(["Accounts Manager", "Office Manager", "Director", "IT Support", "Sales"]),
             r.choice(COMPANIES)]
    if r.random() < 0.8:
        lines.append(r.choice(["T: ", "Tel ", "Mobile: ", "Phone: ", "M "]) + phone(r))
    if r.random() < 0.4:
        lines.append(f"Registered in England and Wales No. {r.randint(1000000, 13999999):08d}")
    if r.random() < 0.3:
        lines.append(f"VAT Reg. No. GB {r.randint(100, 999)} {r.randint(1000, 9999)} {r.randint(10, 99)}")
    if r.random() < 0.2:
        lines.append(f"{r.randint(1, 200)} High Street, Leeds LS{r.randint(1, 28)} {r.randint(1, 9)}"
                     f"{r.choice('ABDEFG')}{r.choice('HJLNPQ')}")
    return "\n".join(lines)


def date_str(r: random.Random) -> str:
    d = datetime(2025, 1, 1) + timedelta(days=r.randint(0, 600))
    return r.choice([d.strftime("%d/%m/%Y"), d.strftime("%d-%m-%y"), d.strftime("%Y-%m-%d"),
                     d.strftime("%d %B %Y"), d.strftime("%d.%m.%Y")])


def filler(r: random.Random) -> str:
    return r.choice([
        "Hope you had a good weekend.",
        "Thanks for getting back to me so quickly.",
        f"As discussed on the call on {date_str(r)}, please find the details below.",
        "Let me know if anything is unclear.",
        f"The meeting is moved to {r.randint(9, 17)}:{r.choice(['00', '30'])} in room {r.randint(1, 40)}.",
        f"Our reference: {r.choice(['PO', 'INV', 'ORD', 'Q'])}-{r.randint(2024, 2026)}-{r.randint(1000, 99999)}.",
        "Sorry for the delay, it has been a busy week here.",
        f"Your parcel is on its way, tracking number 1Z{r.randint(100, 999)}AA1{r.randint(10**9, 10**10 - 1)}.",
        f"You can reach me on {phone(r)} until Friday.",
        "Attached is the signed copy for your records.",
        f"Ticket #{r.randint(10000, 999999)} has been updated.",
        "Please confirm once this is done.",
        f"Total due: £{r.randint(20, 9000)}.{r.randint(0, 99):02d} by {date_str(r)}.",
        "",
    ])


def hello(r: random.Random) -> str:
    return r.choice([f"Hi {r.choice(FIRST)},", f"Dear {r.choice(['Mr', 'Ms', 'Dr'])} {r.choice(LAST)},",
                     "Hello,", f"Hey {r.choice(FIRST)}!", "Hi all,", f"Hallo {r.choice(FIRST)},",
                     f"Bonjour {r.choice(FIRST)},", "Good morning,", ""])


# ---------------------------------------------------------------------------------------
# Snippets. Each returns (text, labels, kv) where kv is an optional list of (key, value)
# rows for table-shaped layouts (HTML tables, CSV, XLSX).

Snip = tuple[str, set[str], list[tuple[str, str]] | None]


def pos_card(r: random.Random) -> Snip:
    scheme, number = card_number(r)
    printed = group_card(r, number)
    exp = f"{r.randint(1, 12):02d}/{r.randint(26, 31)}"
    cvv = str(r.randint(100, 9999 if scheme == "Amex" else 999)).zfill(3)
    name = person(r)
    k = r.randint(0, 13)
    if k == 0:
        return (f"Card number: {printed}\nExpiry: {exp}\nCVV: {cvv}", {"payment_card"},
                [("Cardholder", name), ("Card number", printed), ("Expiry", exp), ("CVV", cvv)])
    if k == 1:
        return (f"Please charge the deposit to my {scheme} {printed}, exp {exp}, security code {cvv}.",
                {"payment_card"}, None)
    if k == 2:
        return (f"here's the card you asked for - {printed} ({exp})", {"payment_card"}, None)
    if k == 3:
        g = [number[i:i + 4] for i in range(0, 16, 4)] if len(number) == 16 else None
        if g:
            return ("Card details:\n" + "\n".join(g) + f"\nvalid thru {exp}", {"payment_card"},
                    [("Card", g[0]), ("", g[1]), ("", g[2]), ("", g[3])])
        return (f"Credit card {printed} exp. {exp}", {"payment_card"}, None)
    if k == 4:
        return (f"Name on card: {name}\nLong number {printed}\nExp {exp}  CVC {cvv}", {"payment_card"},
                [("Name on card", name), ("Long number", printed), ("Exp", exp), ("CVC", cvv)])
    if k == 5:
        return (f"Meine Kreditkarte: {printed}, gültig bis {exp}, Prüfnummer {cvv}", {"payment_card"}, None)
    if k == 6:
        return (f"Voici ma carte bancaire : {printed} expiration {exp} cryptogramme {cvv}",
                {"payment_card"}, None)
    if k == 7:
        return (f"Número de tarjeta: {printed} - caducidad {exp}", {"payment_card"}, None)
    if k == 8:
        return (f"Can you book the hotel on the company {scheme}? Number is {printed}, "
                f"expires {exp}.", {"payment_card"}, None)
    if k == 9:
        half = len(printed) // 2
        cut = printed.rfind(" ", 0, half + 2)
        if cut > 0:
            return (f"Card no. {printed[:cut]}\n{printed[cut + 1:]} exp {exp}", {"payment_card"}, None)
        return (f"Card no. {printed} exp {exp}", {"payment_card"}, None)
    if k == 10:
        return (f"Payment method\tCard\nNumber\t{printed}\nExpires\t{exp}", {"payment_card"},
                [("Payment method", "Card"), ("Number", printed), ("Expires", exp)])
    if k == 11:
        return (f"debit card {printed}", {"payment_card"}, None)
    if k == 12:
        return (f"For the refund use the {scheme.lower()} ending... actually the full number: "
                f"{printed}", {"payment_card"}, None)
    return (f"CC: {printed} / {exp} / {cvv}", {"payment_card"}, None)


def neg_card(r: random.Random) -> Snip:
    k = r.randint(0, 10)
    last4 = f"{r.randint(0, 9999):04d}"
    if k == 0:
        return (f"Your card ending in {last4} was charged £{r.randint(5, 400)}.{r.randint(0, 99):02d}.", set(), None)
    if k == 1:
        return (f"Card: **** **** **** {last4}", set(), [("Card", f"**** **** **** {last4}")])
    if k == 2:
        return (f"Paid with Visa 4{r.randint(100, 999)}-XXXX-XXXX-{last4}", set(), None)
    if k == 3:
        t = r.choice(PUBLISHED_TEST_CARDS)
        return (f"For the staging checkout use test card {group_card(r, t, 'space')} with any future "
                "expiry and CVC.", set(), None)
    if k == 4:
        return (f"IMEI: {luhn_valid_non_card(r, 15, r.choice(['35', '86', '01']))}", set(), None)
    if k == 5:
        return (f"Account reference {luhn_valid_non_card(r, 16, r.choice(['9', '7', '1', '0']))}",
                set(), None)
    if k == 6:
        return (f"Tracking: {luhn_valid_non_card(r, 16, r.choice(['9', '1']))} (Royal Mail "
                f"{r.choice('ABCDEF')}{r.choice('XYZQ')}{r.randint(10**8, 10**9 - 1)}GB)", set(), None)
    if k == 7:
        return (f"Order number: {r.randint(10**11, 10**12 - 1)}  Qty {r.randint(1, 9)}", set(), None)
    if k == 8:
        return ("We accept Visa, Mastercard and American Express. Your card details are never "
                "stored on our servers.", set(), None)
    if k == 9:
        return (f"Card number: {'X' * 12}{last4} (masked)", set(), None)
    return (f"Meeting ID: {r.randint(100, 999)} {r.randint(1000, 9999)} {r.randint(1000, 9999)}  "
            f"Passcode: {r.randint(100000, 999999)}", set(), None)


def pos_iban(r: random.Random) -> Snip:
    country = r.choice(list(IBAN_BBAN))
    value = iban(r, country)
    printed = group_iban(r, value)
    b = bic(r, country)
    name = r.choice(COMPANIES)
    k = r.randint(0, 8)
    if k == 0:
        return (f"IBAN: {printed}\nBIC: {b}", {"iban"}, [("Account holder", name), ("IBAN", printed), ("BIC", b)])
    if k == 1:
        return (f"Please transfer the balance to {printed} ({b}).", {"iban"}, None)
    if k == 2:
        return (f"Bankverbindung: {name}, IBAN {printed}, BIC {b}", {"iban"}, None)
    if k == 3:
        return (f"Coordonnées bancaires : IBAN {printed} - BIC {b}", {"iban"}, None)
    if k == 4:
        return (f"Beneficiary: {name}\nIBAN/Account: {printed}\nSWIFT: {b}", {"iban"},
                [("Beneficiary", name), ("IBAN/Account", printed), ("SWIFT", b)])
    if k == 5:
        return (f"my new account is {printed}, can you update payroll?", {"iban"}, None)
    if k == 6:
        return (f"Rekeningnummer (IBAN): {printed} t.n.v. {name}", {"iban"}, None)
    if k == 7:
        return (f"{printed}", {"iban"}, [("IBAN", printed)])
    return (f"Pay to: {name} / {printed} / {b}", {"iban"}, None)


def neg_iban(r: random.Random) -> Snip:
    k = r.randint(0, 5)
    if k == 0:
        bad = iban(r, valid=False)
        return (f"Reference: {bad}", set(), None)
    if k == 1:
        return (f"VAT number: DE{r.randint(10**8, 10**9 - 1)}", set(), None)
    if k == 2:
        return ("Our IBAN has changed, please ask accounts for the new details before paying.", set(), None)
    if k == 3:
        return (f"Item {r.choice('ABCDEFGH')}{r.choice('ABCDEFGH')}{r.randint(10, 99)}-{r.randint(1000, 9999)}"
                f"-{r.randint(1000, 9999)} back in stock", set(), None)
    if k == 4:
        return ("Bank transfers usually take 1-3 working days. Have your IBAN and BIC ready when "
                "you call.", set(), None)
    return (f"Part no. GB{r.randint(10, 99)} {r.randint(1000, 9999)} {r.randint(1000, 9999)} "
            f"{r.randint(1000, 9999)}", set(), None)


def pos_uk(r: random.Random) -> Snip:
    sc = sort_code(r)
    s = fmt_sort(r, sc)
    a = account_no(r)
    name = person(r)
    bank = r.choice(["Barclays", "NatWest", "Lloyds", "HSBC", "Santander", "Monzo", "Nationwide"])
    k = r.randint(0, 11)
    if k == 0:
        return (f"Sort code: {s}\nAccount no: {a}", {"uk_bank_account"},
                [("Bank", bank), ("Sort code", s), ("Account number", a)])
    if k == 1:
        return (f"Sort code: {s} / Account no: {a}", {"uk_bank_account"}, None)
    if k == 2:
        return (f"{bank} a/c {a} sort {s}", {"uk_bank_account"}, None)
    if k == 3:
        return (f"acct {a}, sortcode {sc}", {"uk_bank_account"}, None)
    if k == 4:
        return (f"Account name: {name}\nAccount number: {a}\nSort code: {s}", {"uk_bank_account"},
                [("Account name", name), ("Account number", a), ("Sort code", s)])
    if k == 5:
        return (f"can you pay me back into my {bank} account? {s} {a}", {"uk_bank_account"}, None)
    if k == 6:
        return (f"Bank details for the invoice: {bank}, S/C {s}, A/C {a[:4]} {a[4:]}",
                {"uk_bank_account"}, None)
    if k == 7:
        return (f"Payee: {name}\tSort Code: {s}\tAcc: {a}", {"uk_bank_account"},
                [("Payee", name), ("Sort Code", s), ("Acc", a)])
    if k == 8:
        return (f"The account number is {a} and the sort code is {s}.", {"uk_bank_account"}, None)
    if k == 9:
        return (f"BACS payment to {name}: {s} / {a}", {"uk_bank_account"}, None)
    if k == 10:
        return (f"Sort Code\tAccount Number\tReference\n{s}\t{a}\tINV{r.randint(1000, 9999)}",
                {"uk_bank_account"}, None)
    return (f"My bank details: account {a}, sort code {s}, {bank}", {"uk_bank_account"}, None)


def neg_uk(r: random.Random) -> Snip:
    k = r.randint(0, 6)
    if k == 0:
        return (f"Customer account number: {account_no(r)}. Call us on {phone(r)}.", set(), None)
    if k == 1:
        return (f"Please note our sort code will change on {date_str(r)}; your account number stays "
                "the same and no action is needed.", set(), None)
    if k == 2:
        return (f"Order {account_no(r)} dispatched {date_str(r)}, delivery window 10-12-14h.", set(), None)
    if k == 3:
        return (f"Company number {r.randint(1000000, 13999999):08d}, registered {date_str(r)}.", set(), None)
    if k == 4:
        return (f"Membership no {account_no(r)} renewed until {date_str(r)}.", set(), None)
    if k == 5:
        return ("Never give your sort code and account number to anyone who calls you unexpectedly.",
                set(), None)
    return (f"Invoice {r.randint(10**7, 10**8 - 1)} dated {date_str(r)}, terms 30 days.", set(), None)


LANG_PW = {
    "en": ["The password for the {thing} is {v}", "Password: {v}", "pwd: {v}",
           "Login details below:\nUsername: {u}\nPassword: {v}", "Your temporary password is {v}",
           "passcode {v}", "I've set the {thing} password to {v}", "credentials below\n{u}\n{v}",
           "Username: {u}  Password: {v}", "wifi code is {v}", "PIN: {pin}",
           "the new pw is {v} (don't share)", "log in as {u} with password {v}",
           "Password - {v}", "the {thing} login is {u} / {v}"],
    "de": ["Das Passwort lautet {v}", "Kennwort: {v}", "Ihr neues Passwort ist {v}",
           "Zugangsdaten: Benutzer {u}, Passwort {v}", "WLAN-Schlüssel: {v}", "PIN: {pin}"],
    "fr": ["Le mot de passe est {v}", "Mot de passe : {v}", "Identifiant : {u} / Mot de passe : {v}",
           "le code wifi est {v}", "mdp : {v}"],
    "es": ["La contraseña es {v}", "Usuario: {u} Contraseña: {v}", "clave: {v}",
           "Tu contraseña temporal: {v}"],
    "nl": ["Het wachtwoord is {v}", "Wachtwoord: {v}", "Gebruikersnaam {u}, wachtwoord {v}"],
    "it": ["La password è {v}", "Nome utente: {u} Password: {v}", "la password del wifi è {v}"],
    "pt": ["A senha é {v}", "Senha: {v}", "Usuário: {u} / senha: {v}"],
    "pl": ["Hasło to {v}", "Hasło: {v}", "Login: {u}, hasło: {v}"],
}
THINGS = ["router", "VPN", "shared drive", "admin panel", "wifi", "Office 365 account", "NAS",
          "alarm", "guest network", "portal"]


def pos_password(r: random.Random) -> Snip:
    k = r.random()
    if k < 0.12:
        label, value = token(r)
        return (r.choice([f"{label}: {value}", f"Here is the {label.lower()} for the deploy: {value}",
                          f"export TOKEN={value}"]), {"password"}, [(label, value)])
    if k < 0.18:
        return ("Key for the server below, please keep it safe:\n\n" + pem_key(r), {"password"}, None)
    lang = r.choice(list(LANG_PW) + ["en", "en", "en"])
    template = r.choice(LANG_PW[lang])
    v, u, pin = password(r), username(r), str(r.randint(1000, 9999))
    text = template.format(v=v, u=u, pin=pin, thing=r.choice(THINGS))
    kv = None
    if "Username" in template or "Benutzer" in template:
        kv = [("Username", u), ("Password", v)]
    return text, {"password"}, kv


NEG_PW = [
    "We received a request to reset your password. If this was you, click the link below; "
    "otherwise ignore this email.",
    "Passwords must contain at least 8 characters, including one number and one symbol.",
    "Forgot your password? Reset it at any time from the sign-in page.",
    "Password: ********",
    "Username: {u}\nPassword: <password>",
    "password: [redacted]",
    "Reminder: IT will never ask you for your password by email. Report suspicious messages "
    "to the security team.",
    "Phishing awareness: attackers may pretend to be your bank and ask for your PIN or "
    "login details. Never reply with them.",
    "From Monday the password policy requires 12 characters and changes every 90 days.",
    "Your password expires in 5 days. Please change it before {d}.",
    "The password has been sent separately by SMS.",
    "Passwort vergessen? Klicken Sie hier, um ein neues Passwort festzulegen.",
    "Mot de passe oublié ? Cliquez ici pour le réinitialiser.",
    "¿Olvidaste tu contraseña? Puedes restablecerla desde la aplicación.",
    "Wachtwoord vergeten? Vraag een nieuwe aan via de website.",
    "Hai dimenticato la password? Reimpostala dal portale.",
    "Esqueceu a senha? Clique aqui para redefinir.",
    "Nie pamiętasz hasła? Kliknij tutaj, aby je zresetować.",
    "The document is password-protected; I'll call you with the password.",
    "Please use a password manager and enable two-factor authentication.",
    "Your PIN will arrive in a separate letter within 5 working days.",
    "Your login details have been updated successfully. If you did not make this change, "
    "contact us.",
    "Please pin this message to the top of the channel.",
    "Password strength: weak. Try adding numbers and symbols.",
    "Credentials for the new system will be sent by your manager.",
    "API key: <your-api-key-here>",
    "token: ${{GITHUB_TOKEN}}",
    "Enter your password when prompted, then choose Next.",
    "Password reset completed for {u} at {t}.",
]


def neg_password(r: random.Random) -> Snip:
    return (r.choice(NEG_PW).format(u=username(r), d=date_str(r),
                                    t=f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}"), set(), None)


def neg_misc(r: random.Random) -> Snip:
    k = r.randint(0, 5)
    if k == 0:
        lines = ["Order confirmation", f"Order no: {r.randint(10**6, 10**9)}",
                 f"Date: {date_str(r)}", f"Items: {r.randint(1, 5)}", f"Total: €{r.randint(10, 500)}.00",
                 f"Delivery to: {r.randint(1, 99)} Rue de la Paix, 7500{r.randint(1, 9)} Paris"]
        return "\n".join(lines), set(), [tuple(x.split(": ", 1)) if ": " in x else (x, "") for x in lines]  # type: ignore[misc]
    if k == 1:
        return (f"Save 20% with our new current account - switch today! Representative APR "
                f"{r.randint(10, 30)}.9%.", set(), None)
    if k == 2:
        return (f"Call {phone(r)} or {phone(r)}. Postcode SW1A {r.randint(1, 9)}AA.", set(), None)
    if k == 3:
        return (f"Ticket {r.randint(10**7, 10**8 - 1)}: printer on floor {r.randint(1, 6)} jammed "
                f"again since {date_str(r)}.", set(), None)
    if k == 4:
        return (f"Flight BA{r.randint(100, 999)} booking ref {''.join(r.choices(string.ascii_uppercase, k=6))}, "
                f"e-ticket {r.randint(10**12, 10**13 - 1)}.", set(), None)
    return (f"Invoice total £{r.randint(100, 9999)}.00, VAT GB{r.randint(10**8, 10**9 - 1)}, "
            f"PO {r.randint(10**5, 10**6)}.", set(), None)


# ---------------------------------------------------------------------------------------
# Shapes (issue 12): secrets people describe instead of naming. Written before the rules
# that catch them, in wordings of this file's own; the suite is measured with seed 1212,
# which is never used while writing rules.

def _pin(r: random.Random) -> str:
    return str(r.randint(1000, 999999)).zfill(r.choice([4, 4, 5, 6]))[:r.choice([4, 5, 6])]


def _place(r: random.Random, lang: str) -> str:
    return r.choice({
        "en": ["the loading bay", "the side gate", "unit 4", "the plant room", "the back office",
               "the bike shed", "the stock room"],
        "de": ["den Hintereingang", "das Lager", "den Serverraum", "die Garage", "das Büro im 2. OG"],
        "fr": ["l'entrepôt", "le local vélos", "la porte de service", "le bureau du 3e", "le garage"],
    }[lang])


def shape_opens(r: random.Random) -> Snip:
    """A secret named by what it opens: alarm, keypad, key safe, panel, padlock."""
    pin, v = _pin(r), password(r)
    lang = r.choice(["en", "de", "fr"])
    place = _place(r, lang)
    t = r.choice({
        "en": [f"To switch the alarm off when you arrive, key in {pin} and press OK.",
               f"Keypad for {place}: {pin}",
               f"The key box by the front steps opens with {pin}.",
               f"the combo for the padlock on {place} is {pin}",
               f"Log in to the hosting control panel with {v}",
               f"You can get into the back end using {v} (user: office).",
               f"Door entry for {place} - {pin}#",
               f"the alarm panel code is {pin}, it beeps for 30 seconds first",
               f"Your card PIN is {pin}."],
        "de": [f"Der Code für {place} ist {pin}.",
               f"Alarmanlage ausschalten: {pin} eingeben, dann Taste OK.",
               f"Das Zahlenschloss an {place} geht mit {pin} auf.",
               f"Mit {v} kommst du in die Verwaltungsoberfläche.",
               f"Schlüsseltresor neben der Tür: {pin}",
               f"Die Geheimzahl für die neue Karte: {pin}"],
        "fr": [f"Le digicode pour {place} est {pin}.",
               f"Pour désactiver l'alarme, tapez {pin} puis OK.",
               f"Le cadenas de {place} s'ouvre avec {pin}.",
               f"Tu peux entrer dans l'interface d'administration avec {v}.",
               f"Boîte à clés à côté de l'entrée : {pin}",
               f"Ton code confidentiel de carte : {pin}"],
    }[lang])
    return t, {"password"}, None


def shape_temporary(r: random.Random) -> Snip:
    """A first or temporary password followed by a note about changing it or its expiry."""
    v, u = password(r), username(r)
    t = r.choice([
        f"Your starter password is {v} - you'll be asked to choose your own when you first sign on.",
        f"One-off password: {v} (works until midnight, then pick a new one)",
        f"Initial login for {u}: {v}. Change it straight away please.",
        f"Here's a temp password: {v}. It lapses after 24 hours.",
        f"Ihr Erstpasswort: {v} (bitte beim ersten Anmelden ändern)",
        f"Das vorläufige Kennwort lautet {v}; es verfällt nach drei Tagen.",
        f"Einmalpasswort für {u}: {v} - gilt nur heute.",
        f"Mot de passe temporaire : {v} (à modifier à la première connexion)",
        f"Ton mot de passe initial est {v}, il expire dans 48 h.",
        f"Voici un mot de passe provisoire, {v}. Pense à le changer.",
    ])
    return t, {"password"}, [("Username", u), ("Temporary password", v)] if r.random() < 0.3 else None


def shape_short(r: random.Random) -> Snip:
    """Short labels: pw, pwd, pass, PIN, mdp, PW in prose and key=value lines."""
    v, u, pin = password(r), username(r), _pin(r)
    t = r.choice([
        f"user {u} pw {v}",
        f"login={u} pwd={v}",
        f"host=files01;user={u};pass={v}",
        f"ok so it's {u}, pass {v}",
        f"the pwd is {v}",
        f"SIM PIN {pin}",
        f"Benutzer {u}, PW {v}",
        f"Zugang: {u} / PW: {v}",
        f"identifiant {u} mdp {v}",
        f"le mdp c'est {v}",
        f"PIN de la carte SIM : {pin}",
    ])
    return t, {"password"}, None


def shape_long_gap(r: random.Random) -> Snip:
    """Several words between the password word and its "is"."""
    v = password(r)
    t = r.choice([
        f"The password for the laptop that Sam left in the meeting room is {v}",
        f"password for the printer upstairs by the kitchen is {v}",
        f"The password on the old reception PC we moved to storage is {v}",
        f"Das Passwort für den Laptop im Besprechungsraum unten ist {v}",
        f"Das Kennwort vom Rechner an der Kasse im Laden lautet {v}",
        f"Le mot de passe du portable de la salle de formation est {v}",
        f"Le mot de passe pour la borne wifi du premier étage est {v}",
    ])
    return t, {"password"}, None


def _expiry(r: random.Random) -> str:
    m, y = r.randint(1, 12), r.randint(26, 31)
    return r.choice([f"{m:02d}/{y}", f"{m}/{y}", f"{m:02d}/20{y}", f"{m:02d}-{y}", f"{m:02d}.20{y}",
                     f"{m:02d} / {y}"])


def shape_card_alone(r: random.Random) -> Snip:
    """A card number alone on its line with only an expiry near it, introduced by its use."""
    _, number = card_number(r)
    printed = group_card(r, number, r.choice(["space", "space", "none", "dash"]))
    exp = _expiry(r)
    intro = r.choice(["For the train tickets tomorrow:", "use this one for the hotel deposit",
                      "Company one for the conference fees:", "For the flights, please use",
                      "Für die Hotelbuchung bitte diese nehmen:", "Für die Messegebühr:",
                      "Pour les billets de train :", "Pour l'acompte de l'hôtel, prends celle-ci :"])
    tail = r.choice(["", "", f"\n{person(r)}", "\nthanks!"])
    return (f"{intro}\n{printed}\n{r.choice(['', 'until ', 'bis ', 'jusqu’à '])}{exp}{tail}",
            {"payment_card"}, None)


def shape_uk_bare(r: random.Random) -> Snip:
    """A sort code and account number written bare after "bank" or "acc"."""
    sc, a = sort_code(r), account_no(r)
    s = r.choice([sc, f"{sc[:2]}-{sc[2:4]}-{sc[4:]}", f"{sc[:2]}.{sc[2:4]}.{sc[4:]}",
                  f"{sc[:2]} {sc[2:4]} {sc[4:]}"])
    sep = r.choice(["/", " / ", " ", ".", "  "])
    if sep == "." and not s.isdigit():
        sep = " "
    t = r.choice([f"bank {s}{sep}{a}", f"acc {s}{sep}{a} (Lloyds)", f"send it to my bank: {s}{sep}{a}",
                  f"UK bank {s}{sep}{a}, name {person(r)}", f"acc. {s}{sep}{a}",
                  f"Bank in UK: {s}{sep}{a}", f"banque (UK) : {s}{sep}{a}",
                  f"My Monzo acc is {s}{sep}{a}"])
    return t, {"uk_bank_account"}, None


SHAPE_NEG = [
    "Meeting ID: {mid}\nPasscode: {pc}",
    "Join by phone +44 20 3481 {n4}, conference ID {mid}#, PIN {pin}#",
    "Zoom-Meeting beitreten\nMeeting-ID: {mid}\nKenncode: {pc}",
    "Réunion Teams - ID de réunion : {mid} Code secret : {pc}",
    "Order {amz} has shipped.",
    "Tracking code {trk}: out for delivery today.",
    "Ihre Sendungsnummer lautet {trk}.",
    "Numéro de suivi : {trk}",
    "Device GUID {guid} enrolled.",
    "Ref {guid}",
    "IMEI {imei}, serial C02{n4}XYZ",
    "Invoice INV-{year}-{n6} is now overdue.",
    "Ticket #{n6} closed by support.",
    "Rechnung Nr. {n6} vom {d}",
    "Facture n° {year}-{n6}",
    "Your new PIN is in the post and should arrive within a week.",
    "The new alarm code will be posted to you separately.",
    "Ihre neue PIN erhalten Sie mit getrennter Post.",
    "Votre code confidentiel vous sera envoyé par courrier.",
    "Passwords must be changed every 90 days and may not repeat the last 5.",
    "Das Passwort muss mindestens 12 Zeichen lang sein und eine Ziffer enthalten.",
    "Le mot de passe doit comporter au moins 12 caractères dont un chiffre.",
    "Reset your password here: https://portal.{dom}/reset?token={tok}",
    "Passwort zurücksetzen: https://login.{dom}/recover/{tok}",
    "Réinitialisez votre mot de passe : https://compte.{dom}/reinit?k={tok}",
    "The door code changes on Monday; reception will tell you the new one.",
    "Please don't write the alarm code on the fridge again.",
    "Bank holiday hours: 10.00-16.00 on 26.12.{yy}.",
    "acc. to clause 4.2, payment within 30 days of {d}.",
    "Account manager: {ph}",
    "Use code SAVE{n2} at checkout for {n2}% off.",
    "Your verification code has expired, request a new one from the app.",
    "Order number {n8}, delivery slot 14:00-16:00 on {d}.",
    "Badge {n6}, valid {mm}/{yy}",
]


def shape_negative(r: random.Random) -> Snip:
    hexd = "0123456789abcdef"
    guid = "-".join("".join(r.choice(hexd) for _ in range(k)) for k in (8, 4, 4, 4, 12))
    values = dict(
        mid=f"{r.randint(100, 999)} {r.randint(100, 999)} {r.randint(100, 9999)}",
        pc=r.choice([str(r.randint(100000, 999999)), "".join(r.choice(string.ascii_letters + string.digits)
                                                               for _ in range(r.randint(6, 10)))]),
        n2=r.randint(10, 50), n4=f"{r.randint(0, 9999):04d}", n6=r.randint(100000, 999999),
        n8=r.randint(10**7, 10**8 - 1), pin=r.randint(1000, 9999),
        amz=f"{r.randint(200, 499)}-{r.randint(10**6, 10**7 - 1)}-{r.randint(10**6, 10**7 - 1)}",
        trk=r.choice([f"1Z{r.randint(100, 999)}AA1{r.randint(10**9, 10**10 - 1)}",
                      f"JJD{r.randint(10**14, 10**15 - 1)}", f"00{r.randint(10**17, 10**18 - 1)}"]),
        guid=guid, imei=luhn_valid_non_card(r, 15, r.choice(["35", "86", "01"])),
        year=r.randint(2024, 2026), yy=r.randint(25, 27), mm=f"{r.randint(1, 12):02d}", d=date_str(r),
        dom=r.choice(DOMAINS), ph=phone(r),
        tok="".join(r.choice(string.ascii_letters + string.digits) for _ in range(24)))
    return r.choice(SHAPE_NEG).format(**values), set(), None


SHAPES: dict[str, list[Callable[[random.Random], Snip]]] = {
    "password": [shape_opens, shape_temporary, shape_short, shape_long_gap],
    "payment_card": [shape_card_alone], "uk_bank_account": [shape_uk_bare]}


POSITIVE: dict[str, Callable[[random.Random], Snip]] = {
    "payment_card": pos_card, "iban": pos_iban, "uk_bank_account": pos_uk, "password": pos_password}
NEGATIVE = [neg_card, neg_iban, neg_uk, neg_password, neg_misc, neg_misc]


# ---------------------------------------------------------------------------------------
# Layouts


def compose(r: random.Random, snippets: list[Snip]) -> tuple[str, str]:
    """Plain text body and a subject for the snippets, in a letter/reply/forward frame."""
    parts = [hello(r)]
    for text, _, _ in snippets:
        if r.random() < 0.5:
            parts.append(filler(r))
        parts.append(text)
    parts += [filler(r), signature(r)]
    body = "\n\n".join(p for p in parts if p is not None)
    subject = r.choice(["Re: invoice", "Details as promised", "Fwd: access", "quick question",
                        "Booking", "Re: Re: payment", "Your account", "Zugangsdaten", "Factura",
                        "Update", "Monthly report", "RE: supplier setup"])
    frame = r.random()
    if frame < 0.25:  # a reply on top of quoted history
        quoted = "\n".join("> " + ln for ln in (hello(r) + "\n" + filler(r) + "\n" + filler(r)).split("\n"))
        body = (f"{filler(r)}\n\nOn {date_str(r)} at {r.randint(8, 18)}:{r.randint(10, 59)}, "
                f"{person(r)} <{r.choice(FIRST).lower()}@{r.choice(DOMAINS)}> wrote:\n{quoted}\n\n" + body
                if r.random() < 0.3 else
                body + f"\n\nOn {date_str(r)}, {person(r)} wrote:\n{quoted}")
    elif frame < 0.35:  # a forward
        body = (f"FYI, see below.\n\n---------- Forwarded message ---------\nFrom: {person(r)} "
                f"<{r.choice(FIRST).lower()}@{r.choice(DOMAINS)}>\nDate: {date_str(r)}\n"
                f"Subject: {subject}\nTo: {person(r)}\n\n" + body)
    elif frame < 0.45:  # everything quoted: the secret sits in the history
        body = (f"{filler(r)}\n\nOn {date_str(r)}, {person(r)} wrote:\n"
                + "\n".join(">" + (" " if ln else "") + ln for ln in body.split("\n")))
    return body, subject


def html_of(r: random.Random, body: str, snippets: list[Snip]) -> str:
    """HTML version; key/value snippets become table rows, sometimes one value per cell."""
    out = ["<html><head><style>td{padding:4px}</style></head><body>"]
    for block in body.split("\n\n"):
        snip = next((s for s in snippets if s[0] == block and s[2]), None)
        if snip is not None and r.random() < 0.8:
            rows = "".join(
                f"<tr><td><b>{escape(k)}</b></td>" + (
                    "".join(f"<td>{escape(p)}</td>" for p in v.split(" "))
                    if r.random() < 0.25 and len(v.split(" ")) == 4 else f"<td>{escape(v)}</td>")
                + "</tr>" for k, v in snip[2])
            out.append(f"<table border=\"1\">{rows}</table>")
        else:
            out.append("<p>" + escape(block).replace("\n", "<br>\n") + "</p>")
    out.append("</body></html>")
    return "\n".join(out)


def csv_of(snippets: list[Snip]) -> str:
    rows = [kv for s in snippets if s[2] for kv in s[2]]
    return "field,value\n" + "\n".join(f'"{k}","{v}"' for k, v in rows) + "\n"


def docx_of(text: str, r: random.Random) -> bytes:
    paras = []
    for line in text.split("\n"):
        esc = escape(line)
        if len(esc) > 8 and r.random() < 0.5:  # Word splits runs at arbitrary places
            cut = r.randint(1, len(esc) - 1)
            while "&" in esc[max(0, cut - 6):cut]:
                cut -= 1
            runs = f"<w:r><w:t xml:space=\"preserve\">{esc[:cut]}</w:t></w:r>" \
                   f"<w:r><w:rPr><w:b/></w:rPr><w:t xml:space=\"preserve\">{esc[cut:]}</w:t></w:r>"
        else:
            runs = f"<w:r><w:t xml:space=\"preserve\">{esc}</w:t></w:r>"
        paras.append(f"<w:p>{runs}</w:p>")
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w='
           '"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           + "".join(paras) + "</w:body></w:document>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                    'openxmlformats.org/package/2006/content-types"/>')
        zf.writestr("word/document.xml", doc)
    return buf.getvalue()


def xlsx_of(rows: list[tuple[str, str]]) -> bytes:
    shared: list[str] = []
    cells = []
    for i, (k, v) in enumerate(rows, start=1):
        row = []
        for col, val in (("A", k), ("B", v)):
            if val.isdigit() and len(val) <= 19 and not val.startswith("0"):
                row.append(f'<c r="{col}{i}"><v>{val}</v></c>')  # a numeric cell
            else:
                shared.append(val)
                row.append(f'<c r="{col}{i}" t="s"><v>{len(shared) - 1}</v></c>')
        cells.append(f'<row r="{i}">' + "".join(row) + "</row>")
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    sheet = f'<?xml version="1.0"?><worksheet {ns}><sheetData>' + "".join(cells) + \
        "</sheetData></worksheet>"
    sst = f'<?xml version="1.0"?><sst {ns}>' + "".join(
        f"<si><t>{escape(s)}</t></si>" for s in shared) + "</sst>"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", f"<workbook {ns}/>")
        zf.writestr("xl/sharedStrings.xml", sst)
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


def rtf_of(text: str) -> bytes:
    body = text.replace("\\", "\\\\").replace("{", "\\{").replace("}", "\\}")
    body = body.replace("\n", "\\par\n")
    out = []
    for ch in body:  # non-ASCII as \'xx (cp1252) or \uN?
        if ord(ch) < 128:
            out.append(ch)
        elif ord(ch) < 256:
            out.append(f"\\'{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch)}?")
    return ("{\\rtf1\\ansi\\deff0{\\fonttbl{\\f0 Calibri;}}\\f0\\fs22 " + "".join(out) + "}").encode()


def pdf_of(text: str) -> bytes:
    """A one-page PDF with the text as plain Tj lines (Helvetica, WinAnsi), as office tools write."""
    def esc(line: str) -> str:
        data = line.encode("cp1252", "replace").decode("latin-1")
        return data.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    lines = text.split("\n")[:60]
    ops = "BT /F1 10 Tf 40 800 Td 12 TL " + " ".join(f"({esc(ln)}) Tj T*" for ln in lines) + " ET"
    stream = ops.encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{i} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def zip_of(text: str, r: random.Random) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(r.choice(["notes.txt", "handover/readme.txt", "info.md"]), text)
    return buf.getvalue()


def build(r: random.Random, snippets: list[Snip], index: int, extra_layouts: bool = False) -> bytes:
    body, subject = compose(r, snippets)
    sender = f"{person(r)} <{r.choice(FIRST).lower()}@{r.choice(DOMAINS)}>"
    rcpt = f"{r.choice(FIRST).lower()}@{r.choice(DOMAINS)}"
    date = format_datetime(datetime(2025, 3, 1, tzinfo=timezone.utc) + timedelta(minutes=index * 37))
    layout = r.choices(["plain", "qp", "b64", "html", "alt", "txt", "csv", "utf16", "rtf", "docx",
                        "xlsx", "rfc822", "pdf", "zip"],
                       weights=[18, 10, 8, 12, 16, 6, 6, 3, 3, 6, 6, 3]
                       + ([6, 6] if extra_layouts else [0, 0]))[0]
    # Table-only layouts carry only key/value rows: every labelled snippet must have them.
    has_kv = any(s[2] for s in snippets) and all(s[2] for s in snippets if s[1])
    if layout in ("csv", "xlsx") and not has_kv:
        layout = "txt"
    msg: EmailMessage | MIMEMultipart
    if layout in ("plain", "qp", "b64"):
        msg = EmailMessage()
        cte = {"plain": None, "qp": "quoted-printable", "b64": "base64"}[layout]
        if cte:
            msg.set_content(body, charset="utf-8", cte=cte)
        else:
            msg.set_content(body)
    elif layout == "html":
        msg = EmailMessage()
        msg.set_content(html_of(r, body, snippets), subtype="html",
                        cte=r.choice(["quoted-printable", "base64"]))
    elif layout == "alt":
        msg = EmailMessage()
        msg.set_content(body)
        msg.add_alternative(html_of(r, body, snippets), subtype="html")
    else:
        msg = EmailMessage()
        cover = r.choice(["Please see attached.", "Details in the attachment.", "Anbei die Unterlagen.",
                          "As requested, attached.", "Ci-joint le document."])
        msg.set_content(f"{hello(r)}\n\n{cover}\n\n{signature(r)}")
        if layout == "txt":
            msg.add_attachment(body.encode(), maintype="text", subtype="plain", filename="details.txt")
        elif layout == "csv":
            msg.add_attachment(csv_of(snippets).encode(), maintype="text", subtype="csv",
                               filename="export.csv")
        elif layout == "utf16":
            data = body.encode("utf-16" if r.random() < 0.5 else "utf-16-le")
            msg.add_attachment(data, maintype="application", subtype="octet-stream",
                               filename=r.choice(["notes.txt", "notes", "info.dat"]))
        elif layout == "rtf":
            msg.add_attachment(rtf_of(body), maintype="application", subtype="rtf", filename="letter.rtf")
        elif layout == "docx":
            msg.add_attachment(docx_of(body, r), maintype="application",
                               subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                               filename="details.docx")
        elif layout == "pdf":
            msg.add_attachment(pdf_of(body), maintype="application", subtype="pdf",
                               filename="details.pdf")
        elif layout == "zip":
            msg.add_attachment(zip_of(body, r), maintype="application", subtype="zip",
                               filename="files.zip")
        elif layout == "xlsx":
            rows = [kv for s in snippets if s[2] for kv in s[2]]
            msg.add_attachment(xlsx_of(rows), maintype="application",
                               subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               filename="sheet.xlsx")
        else:
            inner = EmailMessage()
            inner["From"], inner["To"], inner["Subject"] = sender, rcpt, subject
            inner.set_content(body)
            msg.add_attachment(inner)
    msg["From"] = sender
    msg["To"] = rcpt
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = f"<heldout-{index}@{r.choice(DOMAINS)}>"
    return msg.as_bytes()


def generate(out: Path, n: int, seed: int, suite: str = "base") -> dict[str, int]:
    r = random.Random(seed)
    shapes = suite == "shapes"
    out.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    lines = []
    for i in range(n):
        snippets: list[Snip] = []
        if r.random() < 0.5:  # clean: hard negatives only
            for _ in range(r.randint(1, 3)):
                snippets.append((shape_negative if shapes and r.random() < 0.7
                                 else r.choice(NEGATIVE))(r))
        elif shapes:
            snippets.append(r.choice(SHAPES[r.choice(list(SHAPES))])(r))
            if r.random() < 0.5:
                snippets.insert(r.randint(0, 1), shape_negative(r))
        else:
            cats = [r.choice(list(POSITIVE))]
            if r.random() < 0.15:
                cats.append(r.choice(list(POSITIVE)))
            for c in cats:
                snippets.append(POSITIVE[c](r))
            if r.random() < 0.5:
                snippets.insert(r.randint(0, len(snippets)), r.choice(NEGATIVE)(r))
        r.shuffle(snippets)
        labels = sorted(set().union(*(s[1] for s in snippets)))
        for c in labels or ["clean"]:
            counts[c] = counts.get(c, 0) + 1
        name = f"{i:05d}.eml"
        (out / name).write_bytes(build(r, snippets, i, extra_layouts=shapes))
        lines.append(json.dumps({"file": name, "labels": labels}))
    (out / "labels.jsonl").write_text("\n".join(lines) + "\n")
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("-n", type=int, default=1500)
    parser.add_argument("--seed", type=int, help="default: 7 for base, 1212 for shapes")
    parser.add_argument("--suite", choices=("base", "shapes"), default="base",
                        help="shapes: the issue-12 shapes and their hard negatives")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else (1212 if args.suite == "shapes" else 7)
    counts = generate(args.out, args.n, seed, args.suite)
    print(f"wrote {args.n} messages to {args.out}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
