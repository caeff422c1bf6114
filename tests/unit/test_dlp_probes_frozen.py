"""Issue 29's probe suite is frozen (MANIFEST), and each probe is what it claims to be: the
office files, PDFs and archives open with ordinary readers and hold the secret's label in
the place the family names, so a miss is the scanner's, not a broken file's.
"""

from __future__ import annotations

import email
import email.policy
import gzip
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pypdf
import pytest

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "bench" / "dlp_probes"
LABELS = ("Card number", "IBAN", "Sort code", "Bank details", "Password")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[EmailMessage]]:
    out = tmp_path_factory.mktemp("probes")
    proc = subprocess.run([sys.executable, str(SUITE / "build.py"), str(out), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    families: dict[str, list[EmailMessage]] = {}
    for line in (out / "labels.jsonl").read_text().splitlines():
        entry = json.loads(line)
        msg = email.message_from_bytes((out / entry["file"]).read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        families.setdefault(entry["family"], []).append(msg)
        assert bool(entry["labels"]) != entry["family"].startswith("neg."), entry["file"]
    return families


def _attachment(msg: EmailMessage) -> bytes:
    for part in msg.walk():
        if part.get_filename():
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload
    raise AssertionError("no attachment")


def _has_label(text: str) -> bool:
    return any(label in text for label in LABELS)


def test_size(built: dict[str, list[EmailMessage]]) -> None:
    assert len(built) >= 40
    assert sum(len(m) for f, m in built.items() if f.startswith("neg.")) >= 40
    assert all(len(m) >= 5 for m in built.values())


@pytest.mark.parametrize("family, member", [
    ("place.docx_comment", "word/comments.xml"),
    ("place.pptx_speaker_notes", "ppt/notesSlides/notesSlide1.xml"),
    ("place.xlsx_defined_name", "xl/workbook.xml"),
    ("place.xlsx_sheet_name", "xl/workbook.xml"),
])
def test_office_probes_hold_the_secret_where_named(built: dict[str, list[EmailMessage]],
                                                   family: str, member: str) -> None:
    for msg in built[family]:
        with zipfile.ZipFile(io.BytesIO(_attachment(msg))) as zf:
            text = zf.read(member).decode()
            assert _has_label(text) or any(ch.isdigit() for ch in text), family


def test_pdf_probes_open_and_hold_the_secret(built: dict[str, list[EmailMessage]]) -> None:
    for msg in built["place.pdf_annotation"]:
        reader = pypdf.PdfReader(io.BytesIO(_attachment(msg)))
        annot = reader.pages[0]["/Annots"][0].get_object()
        assert _has_label(str(annot["/Contents"]))
    for msg in built["place.pdf_form_field"]:
        fields = pypdf.PdfReader(io.BytesIO(_attachment(msg))).get_fields() or {}
        assert any(_has_label(name) for name in fields)
    for msg in built["place.pdf_document_info"]:
        meta = pypdf.PdfReader(io.BytesIO(_attachment(msg))).metadata or {}
        assert any(_has_label(str(value)) for value in meta.values())


def test_archive_probes_open(built: dict[str, list[EmailMessage]]) -> None:
    for msg in built["skip.gzip"]:
        assert _has_label(gzip.decompress(_attachment(msg)).decode())
    for family in ("skip.tar", "skip.tar_gz"):
        for msg in built[family]:
            with tarfile.open(fileobj=io.BytesIO(_attachment(msg))) as tf:
                notes = [m for m in tf.getmembers() if m.name.endswith("notes.txt")]
                fh = tf.extractfile(notes[0])
                assert fh is not None and _has_label(fh.read().decode())


def test_folded_lines_hold_the_secret_once_unfolded(built: dict[str, list[EmailMessage]]) -> None:
    for family in ("render.icalendar_folding", "render.vcard_folding"):
        for msg in built[family]:
            for part in msg.walk():
                if part.get_content_type() in ("text/calendar", "text/vcard"):
                    raw = part.get_payload(decode=True)
                    assert isinstance(raw, bytes)
                    folded, unfolded = raw.decode(), raw.decode().replace("\r\n ", "")
                    assert _has_label(unfolded) and folded != unfolded
