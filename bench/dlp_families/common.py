"""Synthetic values and a byte-exact MIME writer shared by the frozen DLP sets.

Written from the category definitions only (issuer prefixes and Luhn, ISO 13616 mod-97 with
each country's IBAN length, a UK sort code of 6 digits and an account of 8), never from the
detectors. Every value is synthetic. The MIME writer builds bytes by hand (fixed boundaries,
fixed dates, no clock, no randomness but the Random passed in) so a set is the same bytes on
every run: its MANIFEST of sha256 sums can freeze it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import quopri
import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from email.header import Header
from pathlib import Path

# ---------------------------------------------------------------------------------------
# Values


def luhn_digit(body: str) -> str:
    """The check digit that makes body + digit Luhn-valid."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


# (scheme, issuer prefixes, lengths): the schemes' published IIN ranges.
CARD_SCHEMES: tuple[tuple[str, tuple[str, ...], tuple[int, ...]], ...] = (
    ("Visa", ("4",), (16,)),
    ("Mastercard", ("51", "52", "53", "54", "55", "2221", "2310", "2500", "2720"), (16,)),
    ("Amex", ("34", "37"), (15,)),
    ("Discover", ("6011", "65"), (16,)),
    ("Maestro", ("6759", "6761", "5018"), (16,)),
    ("JCB", ("3528", "3541", "3589"), (16,)),
    ("Diners", ("36",), (14,)),
)
_KNOWN_TEST_CARDS = {"4111111111111111", "4242424242424242", "5555555555554444"}


def card(r: random.Random, scheme: str | None = None) -> str:
    """A Luhn-valid number with a real issuer prefix and length (not a published test card)."""
    _, prefixes, lengths = (r.choice(CARD_SCHEMES) if scheme is None
                            else next(s for s in CARD_SCHEMES if s[0] == scheme))
    prefix, length = r.choice(prefixes), r.choice(lengths)
    while True:
        body = prefix + "".join(r.choice(string.digits) for _ in range(length - len(prefix) - 1))
        number = body + luhn_digit(body)
        if len(set(number)) > 4 and number not in _KNOWN_TEST_CARDS:
            return number


def group_card(number: str, sep: str = " ") -> str:
    """Grouped as printed on the card: 4-6-5 for 15 digits (Amex), 4-6-4 for 14, else fours."""
    if len(number) == 15:
        parts = [number[:4], number[4:10], number[10:]]
    elif len(number) == 14:
        parts = [number[:4], number[4:10], number[10:]]
    else:
        parts = [number[i:i + 4] for i in range(0, len(number), 4)]
    return sep.join(parts)


def expiry(r: random.Random) -> str:
    return f"{r.randint(1, 12):02d}/{r.randint(27, 31)}"


# BBAN layout per country (n digits, a upper-case letters, c letters or digits), ISO 13616
# registry lengths: GB 22, DE 22, FR 27 ...; the IBAN is CC + 2 check digits + BBAN.
IBAN_BBAN: dict[str, tuple[tuple[int, str], ...]] = {
    "GB": ((4, "a"), (14, "n")), "IE": ((4, "a"), (14, "n")), "DE": ((18, "n"),),
    "FR": ((10, "n"), (11, "c"), (2, "n")), "ES": ((20, "n"),),
    "IT": ((1, "a"), (10, "n"), (12, "c")), "NL": ((4, "a"), (10, "n")),
    "BE": ((12, "n"),), "PL": ((24, "n"),), "CZ": ((20, "n"),), "SK": ((20, "n"),),
    "HU": ((24, "n"),), "RO": ((4, "a"), (16, "c")), "SE": ((20, "n"),), "DK": ((14, "n"),),
    "FI": ((14, "n"),), "EE": ((16, "n"),), "LV": ((4, "a"), (13, "c")), "LT": ((16, "n"),),
    "PT": ((21, "n"),), "MT": ((4, "a"), (5, "n"), (18, "c")), "HR": ((17, "n"),),
    "SI": ((15, "n"),), "AT": ((16, "n"),), "LU": ((3, "n"), (13, "c")),
}
_CLASSES = {"n": string.digits, "a": string.ascii_uppercase,
            "c": string.ascii_uppercase + string.digits}


def iban(r: random.Random, country: str) -> str:
    """A mod-97-valid IBAN of the country's registered length."""
    bban = "".join("".join(r.choice(_CLASSES[k]) for _ in range(n))
                   for n, k in IBAN_BBAN[country])
    digits = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def group4(value: str, sep: str = " ") -> str:
    return sep.join(value[i:i + 4] for i in range(0, len(value), 4))


# First two digits of sort codes of UK clearing banks and building societies.
_SORT_PREFIXES = ("20", "40", "30", "60", "77", "83", "80", "09", "11", "16", "23", "04",
                  "07", "52", "54", "56", "08", "15", "18", "72")


def sort_code(r: random.Random) -> str:
    return r.choice(_SORT_PREFIXES) + f"{r.randint(0, 9999):04d}"


def fmt_sort(sc: str, sep: str = "-") -> str:
    return sep.join((sc[:2], sc[2:4], sc[4:]))


def account(r: random.Random) -> str:
    while True:
        value = str(r.randint(1, 9)) + "".join(r.choice(string.digits) for _ in range(7))
        if len(set(value)) > 3:
            return value


_SYLLABLES = ("ka", "lo", "mer", "tin", "sa", "vo", "rin", "del", "po", "zu", "ne", "bar")
_WORDS = ("harbour", "tulip", "granite", "falcon", "meadow", "copper", "violet", "lantern",
          "orbit", "juniper", "saffron", "pebble", "thistle", "marble", "heron", "clover")


def secret(r: random.Random) -> str:
    """A password as people and generators write them: passphrases, word+digits, random."""
    kind = r.randrange(5)
    if kind == 0:
        return "-".join(r.sample(_WORDS, 3)) + str(r.randint(10, 99))
    if kind == 1:
        word = r.choice(_WORDS).capitalize()
        return word + r.choice("!#$%&*") + str(r.randint(10, 9999))
    if kind == 2:
        pool = string.ascii_letters + string.digits + "!#%&*+?@"
        while True:
            value = "".join(r.choice(pool) for _ in range(r.randint(10, 16)))
            if (any(c.isdigit() for c in value) and any(c.isupper() for c in value)
                    and any(c.islower() for c in value)):
                return value
    if kind == 3:
        return "".join(r.sample(_SYLLABLES, 3)).capitalize() + str(r.randint(100, 999)) + "!"
    groups = ["".join(r.choice(string.ascii_uppercase + string.digits) for _ in range(4))
              for _ in range(4)]
    return "-".join(groups)


def device_key(r: random.Random) -> str:
    """A router or WiFi key as printed on stickers or chosen by admins."""
    if r.random() < 0.5:
        return "".join(r.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(r.randint(12, 16)))
    return secret(r)


def pin(r: random.Random) -> str:
    while True:
        value = "".join(r.choice(string.digits) for _ in range(r.choice((4, 4, 5, 6))))
        if len(set(value)) > 2:
            return value


def user(r: random.Random) -> str:
    first = r.choice(("anna", "tomas", "eilidh", "rhys", "piotr", "ines", "lukas", "maja",
                      "siobhan", "marco", "katrin", "jonas", "aoife", "dafydd", "eva"))
    return r.choice((first, f"{first}.{r.choice('bkmrst')}", f"{first}{r.randint(1, 99)}",
                     f"{first}@example.co.uk"))


# ---------------------------------------------------------------------------------------
# MIME, byte-exact


def header_value(text: str) -> str:
    """RFC 2047 encoded when not ASCII (email.header's encoder is deterministic)."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        return Header(text, "utf-8").encode()


def _b64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def body_bytes(data: bytes, cte: str) -> bytes:
    if cte == "base64":
        return _b64(data)
    if cte == "quoted-printable":
        return quopri.encodestring(data).replace(b"\n", b"\r\n")
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def text_part(text: str, subtype: str = "plain", cte: str = "8bit",
              charset: str = "utf-8") -> bytes:
    data = text.encode(charset)
    if cte in ("8bit", "7bit") and charset == "utf-8" and not text.isascii():
        cte = "8bit"
    head = (f"Content-Type: text/{subtype}; charset=\"{charset}\"\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n")
    return head.encode("ascii") + body_bytes(data, cte)


def attachment(data: bytes, ctype: str, filename: str, cte: str = "base64",
               extra_headers: str = "") -> bytes:
    head = (f"Content-Type: {ctype}; name=\"{filename}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{filename}\"\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n{extra_headers}\r\n")
    return head.encode("utf-8") + body_bytes(data, cte)


def multipart(subtype: str, parts: list[bytes], boundary: str) -> bytes:
    out = [f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode()]
    for part in parts:
        out.append(f"--{boundary}\r\n".encode() + part.rstrip(b"\r\n") + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode())
    return b"".join(out)


@dataclass
class Mail:
    """Top-level headers; the body is one part (which may be multipart)."""

    sender: str
    to: str
    subject: str
    index: int
    extra: list[tuple[str, str]] = field(default_factory=list)

    def render(self, part: bytes) -> bytes:
        day = 1 + self.index % 28
        hour, minute = 8 + self.index % 10, (self.index * 7) % 60
        heads = [("From", self.sender), ("To", self.to),
                 ("Subject", header_value(self.subject)),
                 ("Date", f"{day:02d} Sep 2025 {hour:02d}:{minute:02d}:00 +0100"),
                 ("Message-ID", f"<set-{self.index:05d}@example.co.uk>"),
                 ("MIME-Version", "1.0"), *self.extra]
        head = "".join(f"{k}: {v}\r\n" for k, v in heads).encode("utf-8")
        return head + part


# ---------------------------------------------------------------------------------------
# Writing a set and its manifest


@dataclass(frozen=True)
class Item:
    """One message of a set: its bytes and its truth."""

    family: str
    lang: str
    labels: tuple[str, ...]
    raw: bytes


def write_set(out: Path, families: list[tuple[str, list[Item]]]) -> list[dict[str, object]]:
    """NNNNN.eml (family k's messages are k*100+1 ...: adding a family renames nothing)."""
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for k, (_, items) in enumerate(families, start=1):
        if len(items) > 99:
            raise ValueError("a family holds at most 99 messages")
        for i, item in enumerate(items, start=1):
            name = f"{k * 100 + i:05d}.eml"
            (out / name).write_bytes(item.raw)
            rows.append({"file": name, "labels": list(item.labels), "family": item.family,
                         "lang": item.lang, "sha256": hashlib.sha256(item.raw).hexdigest()})
    with (out / "labels.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps({k: v for k, v in row.items() if k != "sha256"},
                                ensure_ascii=False) + "\n")
    return rows


def manifest_lines(rows: list[dict[str, object]]) -> list[str]:
    """One line per message: sha256, file, family, labels (so a relabel is a change too)."""
    return [f"{row['sha256']}  {row['file']}  {row['family']}  "
            f"{','.join(row['labels']) or '-'}"  # type: ignore[arg-type]
            for row in rows]


def check_manifest(rows: list[dict[str, object]], manifest: Path) -> list[str]:
    """Problems: an entry changed or missing, or a message with no entry."""
    frozen = {line.split()[1]: line for line in manifest.read_text().splitlines() if line}
    built = {line.split()[1]: line for line in manifest_lines(rows)}
    problems = [f"changed: {built.get(name, 'missing')} (frozen: {line})"
                for name, line in frozen.items() if built.get(name) != line]
    problems += [f"not in MANIFEST: {line}" for name, line in built.items() if name not in frozen]
    return problems


def main(argv: list[str] | None, description: str, build: Callable[[], list[tuple[str, list[Item]]]],
         manifest: Path) -> int:
    """The command line of a frozen set's build.py: write it, or check it (exit 1 on a change)
    against its MANIFEST, or write the MANIFEST after a family was appended."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("out", type=Path)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="compare with MANIFEST, exit 1 on change")
    group.add_argument("--write-manifest", action="store_true", help="after appending a family")
    args = parser.parse_args(argv)
    families = build()
    rows = write_set(args.out, families)
    if args.write_manifest:
        manifest.write_text("\n".join(manifest_lines(rows)) + "\n")
    elif args.check:
        problems = check_manifest(rows, manifest)
        print("\n".join(problems) or f"{len(rows)} messages match MANIFEST")
        return 1 if problems else 0
    print(f"{len(rows)} messages in {len(families)} families written to {args.out}")
    return 0
