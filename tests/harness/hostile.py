"""Hostile inputs for the DLP scan (issue 13), built in one place: the bound tests
(tests/unit/dlp/test_dlp_bounds.py, tests/unit/test_dlp_filter.py) assert what the scan says
about them, bench/hostile_dlp.py times them. Every secret here is synthetic.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable, Sequence
from email.message import EmailMessage

CARD = "4539148803436467"  # synthetic, passes Luhn (not a published test number)

Attachment = tuple[bytes, str, str, str]  # data, maintype, subtype, filename


def message(body: str = "Hello", html: str | None = None, attachments: Sequence[Attachment] = (),
            subject: str = "Hi") -> bytes:
    """A plain message (text, optional HTML alternative, attachments) as bytes."""
    msg = EmailMessage()
    msg["From"] = "alice@example.org"
    msg["To"] = "bob@example.net"
    msg["Subject"] = subject
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for data, maintype, subtype, filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def html_unclosed(size: int, card: str = CARD) -> str:
    """About `size` characters of unclosed <title>/<head> tags, then a card a reader can see:
    a closing-tag search per opening tag costs quadratic time here."""
    unit = "<title>x <head>y "
    return unit * (size // len(unit)) + f"<p>card number {card} exp 12/29</p>"


def shared_stream_pdf(pages: int, ops: int, card: str = CARD) -> bytes:
    """A PDF whose `pages` pages all share one content stream of `ops` text operators (well
    compressed: small on the wire, long to interpret once per page), the card at its end."""
    lines = [b"BT /F1 10 Tf 20 700 Td"] + [b"(word ) Tj 0 -1 Td"] * ops
    lines.append(f"(Card number {card}) Tj ET".encode())
    content = zlib.compress(b"\n".join(lines), 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content
            + b"\nendstream"]
    font = b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    objs += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R " + font
             + b" >>"] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % off for off in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objs) + 1, xref))
    return out.getvalue()


def pdf_message(pdf: bytes) -> bytes:
    return message("report attached", attachments=[(pdf, "application", "pdf", "r.pdf")])


def decoys(n: int) -> str:
    """`n` lines of card-shaped numbers that fail Luhn (what a candidate budget must survive)."""
    out, k = [], 0
    while len(out) < n:
        number = f"4{k:015d}"
        k += 7
        if not luhn_ok(number):
            out.append(f"ref {number}")
    return "\n".join(out)


def nested_docx(depth: int, first: str = "Minutes of the meeting") -> bytes:
    """A .docx whose table nests `depth` deep, after a first paragraph `first`."""
    inner = "<w:p><w:r><w:t>x</w:t></w:r></w:p>"
    for _ in range(depth):
        inner = f"<w:tbl><w:tr><w:tc>{inner}</w:tc></w:tr></w:tbl>"
    xml = ('<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f"<w:body><w:p><w:r><w:t>{first}</w:t></w:r></w:p>{inner}</w:body>"
           "</w:document>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # deflated, it looks like a bomb
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", xml)
    return buf.getvalue()


def nested_zip(depth: int, card: str = CARD) -> bytes:
    """A zip in a zip ... `depth` levels, a card in the innermost text file."""
    data, name = f"card number {card}\n".encode(), "inner.txt"
    for i in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
        data, name = buf.getvalue(), f"level{i}.zip"
    return data


def encrypted_zip() -> bytes:
    """A zip whose member has the encryption flag set (its contents unreadable to a scan)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("secret.txt", b"\x8f\x12" * 64)
    data = bytearray(buf.getvalue())
    data[6] |= 1                                   # local header: encrypted
    data[data.rfind(b"PK\x01\x02") + 8] |= 1        # central directory: encrypted
    return bytes(data)


NESTED: dict[str, tuple[Callable[[], bytes], str, str, str]] = {
    "docx": (lambda: nested_docx(1000), "application", "octet-stream", "deep.docx"),
    "zip": (lambda: nested_zip(5), "application", "zip", "deep.zip"),
    "encrypted": (encrypted_zip, "application", "zip", "locked.zip"),
}


def nested_message(kind: str) -> bytes:
    """A message with one NESTED attachment: "docx", "zip" or "encrypted"."""
    build, maintype, subtype, name = NESTED[kind]
    return message("attached", attachments=[(build(), maintype, subtype, name)])
