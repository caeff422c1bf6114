"""How a reply names finding categories to a sender ("payment card numbers"): shared by
the checks that refuse mail for its findings (dlp) or for where flagged mail would go (tls).
A helper, not a filter: filters import it, it imports nothing of theirs."""

from __future__ import annotations

CATEGORY_WORDS = {
    "payment_card": "payment card numbers",
    "iban": "bank account details (IBAN)",
    "uk_bank_account": "bank account details (sort code and account number)",
    "password": "passwords or access keys",
}


def describe(categories: list[str]) -> str:
    return and_list([CATEGORY_WORDS.get(c, c.replace("_", " ")) for c in categories])


def and_list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
