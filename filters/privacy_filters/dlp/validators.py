"""Checksums and issuer tables from the public specifications. Pure functions on digit strings.

Sources: ISO/IEC 7812 (Luhn, issuer identification numbers as published by the card
schemes), ISO 13616 (IBAN structure and the SWIFT IBAN registry's per-country lengths),
ISO 7064 (mod 97-10).
"""

from __future__ import annotations

from typing import Final


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# (scheme, prefix ranges as (low, high) over the leading digits, allowed lengths)
_SCHEMES: Final = (
    ("visa", ((4, 4),), (13, 16, 19)),
    ("mastercard", ((51, 55), (2221, 2720)), (16,)),
    ("amex", ((34, 34), (37, 37)), (15,)),
    ("discover", ((6011, 6011), (644, 649), (65, 65), (622126, 622925)), (16, 17, 18, 19)),
    ("jcb", ((3528, 3589),), (16, 17, 18, 19)),
    ("diners", ((300, 305), (3095, 3095), (36, 36), (38, 39)), (14, 15, 16, 17, 18, 19)),
    ("unionpay", ((62, 62), (81, 81)), (16, 17, 18, 19)),
    ("maestro", ((5018, 5018), (5020, 5020), (5038, 5038), (5893, 5893), (6304, 6304),
                 (6759, 6759), (6761, 6763)), tuple(range(12, 20))),
)

# Maestro ranges overlap ordinary numbers too much to trust without words around them.
NEEDS_CONTEXT: Final = frozenset(("maestro",))


def card_scheme(digits: str) -> str | None:
    """The card scheme whose prefix and length fit, or None."""
    n = len(digits)
    for scheme, ranges, lengths in _SCHEMES:
        if n not in lengths:
            continue
        for low, high in ranges:
            width = len(str(low))
            if low <= int(digits[:width]) <= high:
                return scheme
    return None


# Numbers the card schemes and payment gateways publish for testing: never real cards.
TEST_CARDS: Final = frozenset((
    "4111111111111111", "4012888888881881", "4222222222222", "4242424242424242",
    "4000056655665556", "5555555555554444", "5105105105105100", "2223003122003222",
    "5200828282828210", "378282246310005", "371449635398431", "378734493671000",
    "6011111111111117", "6011000990139424", "3530111333300000", "3566002020360505",
    "30569309025904", "38520000023237", "36227206271667", "6200000000000005",
    "4000000000000002", "4000000000009995", "4000000000000077", "4462030000000000",
    "4917610000000000", "4484070000000000", "5425233430109903", "2222420000001113",
    "4000000000000010", "4000000000003220", "5454545454545454", "4444333322221111",
))


# ISO 13616 registry: country code -> total IBAN length.
IBAN_LENGTHS: Final = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27,
    "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27,
    "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22,
    "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32,
    "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
    "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28, "TL": 23,
    "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_mod97_ok(iban: str) -> bool:
    """ISO 7064 mod 97-10 over the rearranged IBAN (country+check digits moved to the end)."""
    moved = iban[4:] + iban[:4]
    remainder = 0
    for ch in moved:
        if ch.isdigit():
            remainder = (remainder * 10 + ord(ch) - 48) % 97
        elif "A" <= ch <= "Z":
            remainder = (remainder * 100 + ord(ch) - 55) % 97
        else:
            return False
    return remainder == 1


def iban_ok(compact: str) -> bool:
    """Right length for its country, check digits in 02..98, and a passing mod-97."""
    expected = IBAN_LENGTHS.get(compact[:2])
    if expected is None or len(compact) != expected or not compact[2:4].isdigit():
        return False
    if not 2 <= int(compact[2:4]) <= 98:
        return False
    return iban_mod97_ok(compact)


def card_groups_ok(groups: list[int]) -> bool:
    """Digit grouping as cards are printed: 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4 (Diners), 8-8, or none."""
    if len(groups) == 1:
        return True
    if groups in ([4, 6, 5], [4, 6, 4], [8, 8]):
        return True
    return all(g == 4 for g in groups[:-1]) and 1 <= groups[-1] <= 4 and len(groups) >= 3
