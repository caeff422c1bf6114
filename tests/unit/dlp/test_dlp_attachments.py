"""Attachments built in the test: office files via zipfile, PDF by hand, nested archives."""

import io
import zipfile

import pytest

from privacy_filters.dlp import Limits, scan

from dlp_helpers import categories, luhn_complete, make_iban, message

VISA = luhn_complete("4716", 16)
IBAN = make_iban("NL", "ABNA0123456789")


@pytest.fixture(autouse=True, scope="module")
def _stop_pdf_workers():
    """PDFs are read by worker processes kept for the next PDF: stop them after this file."""
    yield
    from privacy_filters.dlp.pdftext import stop_workers

    stop_workers()


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _docx(paragraphs: list[str]) -> bytes:
    ns = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = "".join(f"<w:p><w:r><w:t>{p}</w:t></w:r></w:p>" for p in paragraphs)
    return _zip({"[Content_Types].xml": b"<Types/>",
                 "word/document.xml": f"<w:document {ns}><w:body>{body}</w:body></w:document>"
                 .encode()})


def _xlsx(rows: list[list[str]]) -> bytes:
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    strings, cells = [], []
    for r, row in enumerate(rows, 1):
        out = []
        for value in row:
            strings.append(value)
            out.append(f'<c r="A{r}" t="s"><v>{len(strings) - 1}</v></c>')
        cells.append(f'<row r="{r}">{"".join(out)}</row>')
    sst = "".join(f"<si><t>{s}</t></si>" for s in strings)
    return _zip({"xl/sharedStrings.xml": f"<sst {ns}>{sst}</sst>".encode(),
                 "xl/worksheets/sheet1.xml":
                     f"<worksheet {ns}><sheetData>{''.join(cells)}</sheetData></worksheet>"
                     .encode()})


def _odt(text: str) -> bytes:
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    return _zip({"mimetype": b"application/vnd.oasis.opendocument.text",
                 "content.xml": f"<office:document-content {ns}><office:body><office:text>"
                 f"<text:p>{text}</text:p></office:text></office:body>"
                 f"</office:document-content>".encode()})


def _pdf(text: str) -> bytes:
    """A one-page PDF written by hand (offsets computed), with one line of text."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
               b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def _scan_attachment(data: bytes, maintype: str, subtype: str, name: str,
                     limits: Limits | None = None):
    return scan(message("See attached.", attachments=[(data, maintype, subtype, name)]), limits)


def test_docx():
    report = _scan_attachment(_docx(["Payment details", f"IBAN {IBAN}"]), "application",
                              "vnd.openxmlformats-officedocument.wordprocessingml.document",
                              "pay.docx")
    assert categories(report) == {"iban"}
    assert report.findings[0].where == "attachment"


def test_xlsx_shared_strings():
    report = _scan_attachment(_xlsx([["Card", "Expiry"], [VISA, "09/29"]]), "application",
                              "vnd.openxmlformats-officedocument.spreadsheetml.sheet", "c.xlsx")
    assert "payment_card" in categories(report)


def test_odt():
    report = _scan_attachment(_odt("Das Passwort lautet Sommer2024!"), "application",
                              "vnd.oasis.opendocument.text", "notes.odt")
    assert "password" in categories(report)


def test_pdf_text():
    report = _scan_attachment(_pdf(f"Visa card {VISA} exp 01/29"), "application", "pdf",
                              "card.pdf")
    assert "payment_card" in categories(report)


def test_encrypted_pdf_is_unscannable():
    from pypdf import PdfReader, PdfWriter
    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(_pdf("hello"))).pages:
        writer.add_page(page)
    writer.encrypt("owner-and-user-secret")
    buf = io.BytesIO()
    writer.write(buf)
    report = _scan_attachment(buf.getvalue(), "application", "pdf", "x.pdf")
    assert report.unscannable == 1 and report.unscannable_reasons == ("encrypted",)


def test_nested_zip_and_csv_inside():
    inner = _zip({"bank.csv": f"name,iban\nAcme,{IBAN}\n".encode()})
    outer = _zip({"docs/inner.zip": inner, "readme.txt": b"nothing here"})
    report = _scan_attachment(outer, "application", "zip", "bundle.zip")
    assert "iban" in categories(report) and report.unscannable == 0


def test_zip_depth_limit():
    data = _zip({"a.txt": f"IBAN {IBAN}".encode()})
    for _ in range(6):
        data = _zip({"nested.zip": data})
    report = _scan_attachment(data, "application", "zip", "deep.zip")
    assert report.unscannable >= 1 and "iban" not in categories(report)
    assert report.unscannable_reasons == ("too_deep",)


def test_zip_bomb_ratio_is_unscannable():
    bomb = _zip({"zeros.txt": b"0" * 5_000_000})
    report = _scan_attachment(bomb, "application", "zip", "bomb.zip", Limits(max_zip_ratio=100))
    assert report.unscannable == 1 and report.unscannable_reasons == ("too_large",)


def test_encrypted_zip_member_is_unscannable():
    data = bytearray(_zip({"secret.txt": b"hello"}, zipfile.ZIP_STORED))
    # Set the "encrypted" flag bit in the local and central headers, as zip tools do.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        data[at + offset] |= 0x01
    report = _scan_attachment(bytes(data), "application", "zip", "locked.zip")
    assert report.unscannable == 1 and report.unscannable_reasons == ("encrypted",)


def test_corrupt_zip_is_unscannable():
    report = _scan_attachment(b"PK\x03\x04" + b"\x00" * 50, "application", "zip", "bad.zip")
    assert report.unscannable == 1 and report.unscannable_reasons == ("malformed",)


def test_legacy_office_file_is_unsupported_and_encrypted_ooxml_is_encrypted():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600
    legacy = _scan_attachment(ole, "application", "msword", "old.doc")
    locked = _scan_attachment(ole + "EncryptionInfo".encode("utf-16-le"), "application",
                              "vnd.openxmlformats-officedocument.wordprocessingml.document",
                              "locked.docx")
    assert legacy.unscannable_reasons == ("unsupported",)
    assert locked.unscannable_reasons == ("encrypted",)


def test_attached_message_rfc822():
    inner = message(f"Card number {VISA}", subject="fwd")
    raw = message("Forwarding.", attachments=[(inner, "message", "rfc822", "fwd.eml")])
    assert "payment_card" in categories(scan(raw))


def test_images_are_neither_text_nor_unscannable():
    report = _scan_attachment(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image", "png",
                              "a.png")
    assert report.findings == () and report.unscannable == 0


def test_attached_message_7bit_and_truncated_base64():
    inner = message(f"Card number {VISA}", subject="fwd").decode()
    raw = (
        "From: a@b\nSubject: fw\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n"
        "--b\nContent-Type: text/plain\n\nsee below\n"
        f"--b\nContent-Type: message/rfc822\n\n{inner}\n"
        "--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nQUJDRE\n"
        "--b--\n").encode()
    assert "payment_card" in categories(scan(raw))
