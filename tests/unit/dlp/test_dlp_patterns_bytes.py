"""ASCII text goes to RE2 as bytes (patterns._subject): the same matches at the same positions
as the str path of the re2 module, for every pattern."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32
from pathlib import Path

from privacy_filters.dlp.patterns import NAMES, engine

CORPUS = Path(__file__).resolve().parents[3].parent / "shared" / "corpus" / "dlp-dev"

EXTRA = [
    "", "card 4539 1488 0343 6467 exp 09/27", "Passwort: Sommer2024! für Müller", "IBAN DE89 3704 0044 0532 0130 00",
    "sort code 30-94-57 account 61528374", "pw: x\npassword = hunter22\n", "https://user:pa55word@example.org/x",
    "AKIAIOSFODNN7EXAMPLE and ghp_" + "a" * 36, "contraseña: abc12345", "пароль: qwerty123", "\x00\x7f\t\n",
]


def texts() -> list[str]:
    out = list(EXTRA)
    for path in sorted(CORPUS.glob("*.eml")):
        for part in message_from_bytes(path.read_bytes(), policy=compat32).walk():
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                out.append(payload.decode("utf-8", "replace"))
    return out


def test_bytes_and_str_paths_agree() -> None:
    eng = engine()
    checked_ascii = 0
    for text in texts():
        checked_ascii += text.isascii()
        which = frozenset(NAMES[i] for i in eng._set.Match(text) or ())  # the str path
        assert eng.which(text) == which
        for name in NAMES:
            expected = [(m.start(), m.end()) for m in eng._compiled[name].finditer(text)][:50]
            got = [(m.start, m.end) for m in eng.find(name, text, 50)]
            assert got == expected, name
    assert checked_ascii > 300
