"""What people type outside the body: free-text headers, attachment file names and zip
member names are scanned too (issue 12); machine headers are not."""

import base64
import io
import zipfile

from privacy_filters.dlp import scan
from privacy_milter.model import Confidence

CARD = "4539 1488 0343 6467"


def mail(headers: str, body: bytes = b"Hello,\r\nsee you.\r\n") -> bytes:
    return f"From: a@shop.example\r\nTo: b@far.example\r\nSubject: order\r\n{headers}\r\n".encode() + body


def found(raw: bytes) -> dict[str, tuple[Confidence, str]]:
    return {f.category: (f.confidence, f.where) for f in scan(raw).findings}


def test_a_card_in_an_order_note_header_is_found_as_a_header():
    got = found(mail(f"X-Order-Note: please charge card {CARD} exp 09/27\r\n"))
    assert got["payment_card"] == (Confidence.HIGH, "header")


def test_a_password_in_a_comments_header_is_found():
    got = found(mail("Comments: the new wifi password is Tr0ub4dor&3x\r\n"))
    assert "password" in got and got["password"][1] == "header"


def test_machine_headers_are_not_read_even_when_they_hold_look_alikes():
    raw = mail(f"X-MS-Exchange-Organization-Note: card {CARD} exp 09/27\r\n"
               f"X-Spam-Report: password: hunter2hunter2\r\nReceived: from x (card {CARD})\r\n")
    assert found(raw) == {}


def test_an_attachment_file_name_and_a_zip_member_name_are_text_too():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(f"card {CARD} exp 09-27.txt", "nothing inside")
    raw = (b"From: a@shop.example\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nattached\r\n"
           b"--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=x.zip\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(buf.getvalue()) + b"--b--\r\n")
    assert found(raw)["payment_card"][1] == "attachment"
    named = (b"From: a@shop.example\r\nSubject: files\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nattached\r\n"
             b"--b\r\nContent-Type: application/octet-stream\r\n"
             b"Content-Disposition: attachment; filename=\"Passwort Server: Xk7#mPq92vL.bin\"\r\n\r\n\x00\x01\r\n--b--\r\n")
    assert "password" in found(named)
