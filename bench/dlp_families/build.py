"""Issue 24's frozen family set: held-out DLP messages written as families (wording x layout
x language) before the detectors change, by a different hand from the one changing them.

    .venv/bin/python bench/dlp_families/build.py OUT_DIR              # write the set
    .venv/bin/python bench/dlp_families/build.py OUT_DIR --check      # compare with MANIFEST
    .venv/bin/python bench/dlp_families/build.py OUT_DIR --write-manifest   # after ADDING a family
    .venv/bin/python bench/eval_families.py OUT_DIR                   # recall per family

Writes NNNNN.eml and labels.jsonl ({"file", "labels", "family", "lang"}) like the dev
corpus; family k's messages are k*100+1 onwards, so appending a family renames nothing.
Deterministic (each family has its own Random seeded by its name; no clock, no network).
Frozen: MANIFEST holds the sha256 of every message and its labels; tests/unit/
test_dlp_families_frozen.py fails if any of them changes. Add families at the END of
FAMILIES (new manifest lines); never change or reorder one: it is held out. Never tune a
detector on it: a miss found here becomes a dev case, and a new family stays held out.
Generated sets belong under /tmp, not in the repository.
"""

from __future__ import annotations

import random
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import common  # noqa: E402
from layouts import LAYOUTS  # noqa: E402
from wordings import WORDINGS  # noqa: E402

SEED = "issue-24-families-2025"
UK = ("en", "cy", "gd", "ga", "sco")
EU_LATIN = ("cs", "da", "de", "es", "et", "fi", "fr", "hr", "hu", "it", "lt", "lv", "mt",
            "nl", "pl", "pt", "ro", "sk", "sl", "sv")  # en and ga are in UK already
ALL = UK + EU_LATIN


@dataclass(frozen=True)
class Family:
    """One family: a wording in a layout, its messages cycling through the languages."""

    name: str
    wording: str
    layout: str
    n: int
    langs: tuple[str, ...] = ALL


# The set, as data. Append only (see the module doc).
FAMILIES: tuple[Family, ...] = (
    # Passwords and access codes, in wordings that never say "password"
    Family("pw.access.one_line", "access", "one_line", 20),
    Family("pw.access.label_above", "access", "label_above", 15),
    Family("pw.access.forwarded", "access", "forwarded", 12),
    Family("pw.door_pin.one_line", "door", "one_line", 15),
    Family("pw.door_pin.signature", "door", "signature", 12),
    Family("pw.door_pin.bullet", "door", "bullet", 12),
    Family("pw.device_key.one_line", "devkey", "one_line", 15),
    Family("pw.device_key.label_above", "devkey", "label_above", 12),
    Family("pw.device_key.kv_config", "devkey", "kv_config", 12),
    Family("pw.pw_abbrev.one_line", "abbrev", "one_line", 15),
    Family("pw.pw_abbrev.chat_reply", "abbrev", "chat_reply", 12),
    Family("pw.login_passwd.one_line", "login_passwd", "one_line", 15),
    Family("pw.login_passwd.forwarded", "login_passwd", "forwarded", 12),
    Family("pw.get_in.one_line", "getin", "one_line", 15),
    Family("pw.get_in.chat_reply", "getin", "chat_reply", 12),
    Family("pw.unlock.one_line", "unlock", "one_line", 15),
    Family("pw.log_in_as.one_line", "loginas", "one_line", 15),
    Family("pw.log_in_as.chat_reply", "loginas", "chat_reply", 12),
    Family("pw.credentials.table_html", "creds", "table_html", 15),
    Family("pw.credentials.csv", "creds", "csv", 12),
    Family("pw.credentials.bullet", "creds", "bullet", 12),
    Family("pw.credentials.kv_config", "creds", "kv_config", 12),
    # ... and with each language's own word for password
    Family("pw.native_word.one_line", "native", "one_line", 25),
    Family("pw.native_word.label_above", "native", "label_above", 25),
    # UK bank details: any order, labels, line breaks, languages
    Family("uk.sort_then_account.one_line", "bank", "one_line", 20),
    Family("uk.account_then_sort.one_line", "bankrev", "one_line", 15),
    Family("uk.labels.label_above", "bank_payee", "label_above", 15),
    Family("uk.labels.table_html", "bank_payee", "table_html", 12),
    Family("uk.labels.csv", "bank_payee", "csv", 12),
    Family("uk.labels.signature", "bank", "signature", 12),
    Family("uk.labels.bullet", "bank_payee", "bullet", 12),
    Family("uk.abbreviated.one_line", "bank_terse", "one_line", 15),
    Family("uk.sort_then_account.chat_reply", "bank", "chat_reply", 12),
    Family("uk.account_then_sort.forwarded", "bankrev", "forwarded", 12),
    # Cards and IBANs in the same languages
    Family("card.one_line", "card", "one_line", 15),
    Family("card.table_html", "card", "table_html", 10),
    Family("iban.one_line", "iban", "one_line", 15),
    Family("iban.signature", "iban", "signature", 10),
    # Hard negatives, every language
    Family("neg.policy_text", "neg_policy", "one_line", 25),
    Family("neg.reset_link", "neg_reset", "one_line", 25),
    Family("neg.code_in_post", "neg_post", "one_line", 25),
    Family("neg.conference_call", "neg_meeting", "one_line", 25),
    Family("neg.order_tracking", "neg_order", "one_line", 25),
    Family("neg.ids_guid_imei_isbn", "neg_ids", "one_line", 25),
    Family("neg.phone_date", "neg_phone_date", "one_line", 25),
    Family("neg.sort_code_alone", "neg_sort_alone", "one_line", 25),
    Family("neg.masked", "neg_masked", "one_line", 25),
    Family("neg.placeholder", "neg_placeholder", "one_line", 25),
    Family("neg.sort_like_dates", "neg_dates_near_sort", "one_line", 25),
    Family("neg.conference_call.forwarded", "neg_meeting", "forwarded", 15),
    Family("neg.sort_code_alone.signature", "neg_sort_alone", "signature", 15),
    # Appended 2026-12-08 (before any detector change): text tables, more layouts, two secrets
    Family("pw.credentials.text_table", "creds", "text_table", 12),
    Family("uk.labels.text_table", "bank_payee", "text_table", 12),
    Family("uk.abbreviated.signature", "bank_terse", "signature", 12),
    Family("pw.device_key.bullet", "devkey", "bullet", 12),
    Family("pw.door_pin.chat_reply", "door", "chat_reply", 12),
    Family("mixed.access_and_bank.one_line", "access_and_bank", "one_line", 15),
    Family("mixed.access_and_bank.table_html", "access_and_bank", "table_html", 12),
)


def load_langs() -> dict[str, dict[str, Any]]:
    langs = {}
    for path in sorted((HERE / "lang").glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        data["code"] = path.stem
        langs[path.stem] = data
    return langs


def build_family(fam: Family, langs: dict[str, dict[str, Any]], base: int) -> list[common.Item]:
    r = random.Random(f"{SEED}:{fam.name}")
    start = r.randrange(len(fam.langs))
    items = []
    for i in range(fam.n):
        code = fam.langs[(start + i) % len(fam.langs)]
        L = langs[code]
        snip = WORDINGS[fam.wording](L, r)
        part = LAYOUTS[fam.layout](L, snip, r, base + i)
        who = r.choice(("anna", "rhys", "eilidh", "piotr", "ines", "office", "accounts"))
        mail = common.Mail(f"{who.capitalize()} <{who}@example.co.uk>",
                           "colleague@example.org", L[snip.subject_key], base + i)
        items.append(common.Item(fam.name, code, snip.labels, mail.render(part)))
    return items


def build() -> list[tuple[str, list[common.Item]]]:
    langs = load_langs()
    return [(fam.name, build_family(fam, langs, k * 100 + 1))
            for k, fam in enumerate(FAMILIES, start=1)]


def main(argv: list[str] | None = None, here: Path = HERE) -> int:
    return common.main(argv, __doc__.splitlines()[0], build, here / "MANIFEST")


if __name__ == "__main__":
    sys.exit(main())
