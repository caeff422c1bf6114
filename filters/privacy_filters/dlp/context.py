"""Words around a candidate: what makes a number a card, and what makes it an order number.

All checks look at a small window of text around the candidate, lower-cased, with Python's
`re` (the windows are tiny; the big texts only ever see RE2).
"""

from __future__ import annotations

import re
from typing import Final

CARD_WORDS: Final = re.compile(
    r"\b(?:card(?:_?(?:number|num|no|holder))?|cards|visa|master\s?card|mc|amex|american\s+express|discover|jcb|diners|"
    r"maestro|union\s?pay|credit|debit|cvv2?|cvc2?|cv2|csc|security\s+code|expiry|expires|"
    r"exp|valid\s+(?:thru|until|to)|pan|karte|kreditkarte|(?:kredit)?kartennummer|carte|tarjeta|kaart|creditcard|"
    r"carta|cartão|cartao|charge|pay(?:ment)?|billing|ccn|long\s+number)\b|\bcc\s?#|\bcc\s?no\b")
# Card words that need no further support: they name the number itself.
STRONG_CARD_WORDS: Final = re.compile(
    r"\b(?:card(?:_?(?:number|num|no))?|visa|master\s?card|amex|american\s+express|discover|jcb|diners|maestro|"
    r"union\s?pay|cvv2?|cvc2?|cv2|expiry|exp|expires|karte|kreditkarte|(?:kredit)?kartennummer|carte|tarjeta|kaart|"
    r"creditcard|carta|cartão|cartao|ccn|long\s+number)\b")
# What a long number usually is, when it is not a card.
NOT_CARD_WORDS: Final = re.compile(
    r"\b(?:order|tracking|track|parcel|shipment|consignment|reference|ref|invoice|inv|ticket|"
    r"case|booking|confirmation|transaction|txn|receipt|po|purchase\s+order|customer|member|"
    r"membership|policy|claim|serial|imei|iccid|isbn|phone|tel|telephone|mobile|fax|call|"
    r"account\s+(?:no|number)|acct|id|barcode|sku|voucher|gift|loyalty|"
    r"bestellnummer|commande|pedido|referenz)\b")
# A card's expiry date, MM/YY or MM/YYYY, standing alone (not part of a full date 12/03/2026).
EXPIRY: Final = re.compile(r"(?<![\d/.\-])(?:0[1-9]|1[0-2])\s?/\s?(?:\d{2}|20\d{2})(?![\d/.\-])")
# An expiry on the line after a card that stands alone: "3/29", "04.2029", "bis 11-28".
# One blank line may sit between them: HTML turned to text puts one between <br> lines.
EXPIRY_LINE: Final = re.compile(
    r"[ \t]*\n(?:[ \t>]*\n)?[ \t>]*(?:(?:valid|until|exp\w*|gültig|bis|jusqu['’]?à|fin|end)\.?:?[ \t]+){0,2}"
    r"(?:0?[1-9]|1[0-2])[ \t]?[/.\-][ \t]?(?:\d{2}|20\d{2})[ \t]*(?:\n|$)")
TEST_WORDS: Final = re.compile(r"\b(?:test|testing|sandbox|dummy|sample|example|fake)\b")

IBAN_WORDS: Final = re.compile(
    r"\b(?:iban|bank|account|acct|transfer|pay|payment|wire|bic|swift|beneficiary|payee|"
    r"remit|deposit|kontonummer|konto|compte|cuenta|rekening|conto|bankverbindung|"
    r"virement|überweisung|ueberweisung)\b")

SORT_CODE_WORDS: Final = re.compile(r"sort[\s\-_]?code|sortcode|\bs/c\b|\bs/code\b|\bsc\b|\bsort\s*:")
ACCOUNT_WORDS: Final = re.compile(r"\b(?:account|acct|acc|a/c)(?:_?(?:number|num|no))?\b")
NOT_ACCOUNT_WORDS: Final = re.compile(
    r"\b(?:customer|member|membership|order|invoice|reference|ref|policy|ticket|case|"
    r"phone|tel|mobile|client|loyalty|user|po|company|vat|tracking|booking|serial|"
    r"registered\s+in\s+[a-z& ]{2,30}?)\s*(?:account\s*)?(?:no\.?|number|num|#|id)?\s*"
    r"(?:is\s*)?[:#]?\s*$")
# "sort 20-00-00", "sort: 200000": the bare word right before the digits names a sort code.
SORT_JUST_BEFORE: Final = re.compile(r"\bsort\s*(?:code)?\s*[:\-]?\s*$")
BANK_WORDS: Final = re.compile(
    r"\b(?:bank|banking|pay|paid|payment|transfer|payee|beneficiary|remit|bacs|faster\s+payments?|"
    r"chaps|deposit|refund|salary|wages)\b")
# A bank word ending just before a bare "30-94-57 / 61528374" on the same line.
BARE_BANK_LEAD: Final = re.compile(
    r"\b(?:bank\w*|banque|konto|compte|acc|acct|a/c|account|barclays|natwest|lloyds|hsbc|"
    r"santander|halifax|nationwide|monzo|starling)\b(?:[\s:.,()\-]|\b(?:uk|is|in|my|ma|mon)\b)*$")
# UK banks and building societies: with an account or payment word, the numbers are bank details.
UK_BANK_NAMES: Final = re.compile(
    r"\b(?:barclays|natwest|lloyds|hsbc|santander|halifax|nationwide|tsb|monzo|starling|revolut|"
    r"metro\s+bank|rbs|royal\s+bank\s+of\s+scotland|co-?operative\s+bank|virgin\s+money|"
    r"first\s+direct|coutts|handelsbanken|tide|clydesdale|yorkshire\s+bank|danske)\b")


def before(text: str, start: int, width: int) -> str:
    return text[max(0, start - width):start].lower()


def after(text: str, end: int, width: int) -> str:
    return text[end:end + width].lower()


def line_before(text: str, start: int, width: int = 120) -> str:
    """The text before start on the same line, lower-cased."""
    chunk = text[max(0, start - width):start]
    return chunk[chunk.rfind("\n") + 1:].lower()


def last_match_end(pattern: re.Pattern[str], window: str) -> int:
    """Position just after the last match of pattern in window, or -1."""
    end = -1
    for m in pattern.finditer(window):
        end = m.end()
    return end
