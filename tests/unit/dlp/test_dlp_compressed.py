"""Issue 29: nothing is skipped silently. Compressed single files and tar archives are read
under the zip budgets (size, ratio, depth, member count); text in encodings we recognise
(UTF-32) is read; whatever cannot be read (an archive format we do not open, a charset
Python does not know, a compression bomb) is unscannable with a reason."""

import bz2
import gzip
import io
import lzma
import tarfile
from email.message import EmailMessage

import pytest

from privacy_filters.dlp import Limits, scan

from dlp_helpers import categories, luhn_complete, make_iban, message

VISA = luhn_complete("4929", 16)
IBAN = make_iban("DE", "370400440532013000")
SECRET_TEXT = f"Payment details\nIBAN {IBAN}\n".encode()


def _tar(files: dict[str, bytes], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _attached(data: bytes, name: str, maintype: str = "application", subtype: str = "octet-stream",
              limits: Limits | None = None):
    return scan(message("See attached.", attachments=[(data, maintype, subtype, name)]), limits)


@pytest.mark.parametrize("data,name,subtype", [
    (gzip.compress(SECRET_TEXT), "notes.txt.gz", "gzip"),
    (gzip.compress(SECRET_TEXT), "blob", "octet-stream"),             # by magic, unnamed
    (_tar({"a/notes.txt": SECRET_TEXT}), "backup.tar", "x-tar"),
    (_tar({"notes.txt": SECRET_TEXT}, "w:gz"), "backup.tar.gz", "gzip"),
    (_tar({"notes.txt": SECRET_TEXT}, "w:gz"), "backup.tgz", "octet-stream"),
    (bz2.compress(SECRET_TEXT), "notes.txt.bz2", "x-bzip2"),
    (lzma.compress(SECRET_TEXT), "notes.txt.xz", "x-xz"),
])
def test_compressed_and_tar_are_read(data, name, subtype):
    report = _attached(data, name, subtype=subtype)
    assert categories(report) == {"iban"}, name
    assert report.unscannable == 0


def test_gzip_bomb_is_unscannable():
    bomb = gzip.compress(b"0" * (4 * 1024 * 1024))
    report = _attached(bomb, "big.txt.gz")
    assert report.unscannable_reasons == ("too_large",)


def test_tar_member_count_is_bounded():
    files = {f"f{i}.txt": b"hello" for i in range(12)}
    files["last.txt"] = SECRET_TEXT
    report = _attached(_tar(files), "many.tar", limits=Limits(max_zip_members=5))
    assert "too_large" in report.unscannable_reasons


def test_nested_gzip_depth_is_bounded():
    data = SECRET_TEXT
    for _ in range(8):
        data = gzip.compress(data)
    report = _attached(data, "deep.gz")
    assert "too_deep" in report.unscannable_reasons


def test_corrupt_gzip_is_malformed():
    report = _attached(b"\x1f\x8b\x08\x00" + b"\x00" * 40, "broken.gz")
    assert report.unscannable_reasons == ("malformed",)


@pytest.mark.parametrize("magic,name", [
    (b"Rar!\x1a\x07\x01\x00", "files.rar"),
    (b"7z\xbc\xaf\x27\x1c\x00\x04", "files.7z"),
])
def test_archives_we_cannot_open_are_unsupported(magic, name):
    report = _attached(magic + b"\x00" * 200, name)
    assert report.unscannable_reasons == ("unsupported",)


@pytest.mark.parametrize("encoding", ["utf-32", "utf-32-le", "utf-32-be"])
def test_utf32_text_attachment_is_read(encoding):
    data = f"Card number {VISA}\n".encode(encoding)
    report = _attached(data, "card.txt", maintype="text", subtype="plain")
    assert "payment_card" in categories(report), encoding
    report = _attached(data, "card.bin")  # unlabelled: recognised by its shape
    assert "payment_card" in categories(report), encoding


def test_utf32_body_is_read():
    msg = EmailMessage()
    msg["Subject"] = "hi"
    msg.set_content(f"Card number {VISA}\n".encode("utf-32"), maintype="text", subtype="plain")
    msg.replace_header("Content-Type", 'text/plain; charset="utf-32"')
    report = scan(msg.as_bytes())
    assert "payment_card" in categories(report)


def test_unknown_charset_is_unscannable():
    raw = (b"Subject: hi\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: text/plain; charset=x-no-such-charset\r\n"
           b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Kártya \u00e9\u00e9\r\n".encode("cp437"))
    report = scan(raw)
    assert report.unscannable_reasons == ("unsupported",)


def test_unknown_charset_label_on_plain_ascii_is_just_read():
    raw = (b"Subject: hi\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
           + f"Card number {VISA}\r\n".encode())
    report = scan(raw)
    assert "payment_card" in categories(report) and report.unscannable == 0
