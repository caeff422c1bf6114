"""Issue 24's held-out family set is frozen: the generator reproduces MANIFEST byte for byte.

Adding a family (appended to FAMILIES, new MANIFEST lines via --write-manifest) is allowed;
changing or relabelling a frozen message is not, and fails here. The values the set is
built from are checked against their definitions (Luhn and issuer prefix, IBAN mod-97 and
length, sort code and account digits), and the families that must not say "password" are
checked not to, in any of the set's languages.
"""

from __future__ import annotations

import email
import email.policy
import importlib.util
import json
import random
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
SET_DIR = ROOT / "bench" / "dlp_families"


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("families")
    proc = subprocess.run([sys.executable, str(SET_DIR / "build.py"), str(out), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_the_set_matches_its_manifest(built: Path) -> None:
    lines = (SET_DIR / "MANIFEST").read_text().splitlines()
    assert len(lines) >= 600
    assert len({line.split()[2] for line in lines}) >= 40  # families


def test_a_changed_message_is_caught(tmp_path: Path) -> None:
    common = _load("families_common", SET_DIR / "common.py")
    frozen = (SET_DIR / "MANIFEST").read_text().splitlines()
    name = frozen[0].split()[1]
    rows = [{"file": line.split()[1], "family": line.split()[2],
             "labels": [] if line.split()[3] == "-" else line.split()[3].split(","),
             "sha256": line.split()[0]} for line in frozen]
    rows[0] = {**rows[0], "sha256": "0" * 64}
    assert any(name in p for p in common.check_manifest(rows, SET_DIR / "MANIFEST"))
    rows[0] = {**rows[0], "sha256": frozen[0].split()[0], "labels": []}
    assert common.check_manifest(rows, SET_DIR / "MANIFEST")


def test_values_follow_their_definitions() -> None:
    common = _load("families_common", SET_DIR / "common.py")
    r = random.Random(24)
    for _ in range(200):
        number = common.card(r)
        assert common.luhn_digit(number[:-1]) == number[-1]
        assert any(number.startswith(p) and len(number) in lengths
                   for _, prefixes, lengths in common.CARD_SCHEMES for p in prefixes)
    lengths = {"GB": 22, "DE": 22, "FR": 27, "MT": 31, "NL": 18, "LV": 21, "SI": 19, "PL": 28}
    for country in common.IBAN_BBAN:
        value = common.iban(r, country)
        digits = "".join(str(int(ch, 36)) for ch in value[4:] + value[:4])
        assert int(digits) % 97 == 1
        assert len(value) == lengths.get(country, len(value))
    assert len(common.sort_code(r)) == 6 and common.sort_code(r).isdigit()
    assert len(common.account(r)) == 8 and common.account(r).isdigit()


def _text(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() == "multipart":
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append(payload.decode("utf-8", "replace"))
    return "\n".join(parts)


def test_the_unnamed_families_never_say_password(built: Path) -> None:
    words = {tomllib.loads(p.read_text(encoding="utf-8"))["pw"].casefold()
             for p in (SET_DIR / "lang").glob("*.toml")} | {"password", "passwort"}
    for line in (built / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if not entry["family"].startswith("pw.") or entry["family"].startswith("pw.native_word"):
            continue
        text = _text((built / entry["file"]).read_bytes()).casefold()
        assert not [w for w in words if w in text], entry["file"]


def test_every_language_has_every_phrase() -> None:
    files = sorted((SET_DIR / "lang").glob("*.toml"))
    keys = [set(tomllib.loads(p.read_text(encoding="utf-8"))) for p in files]
    assert len(files) == 25
    assert all(k == keys[0] for k in keys)
