"""Hostile inputs from issue 13: how long one DLP scan takes on each, and what it says.

    .venv/bin/python bench/hostile_dlp.py [--runs N] [--deadline SECONDS] [--only NAME]
    .venv/bin/python bench/hostile_dlp.py --worker-cost [--runs N]

Each case is built here (every secret is synthetic). The scan runs with the default
Limits (max_scan_seconds bounds each scan); the table gives the median of N runs, the
findings and the unscannable reasons.
"""

from __future__ import annotations

import argparse
import io
import platform
import statistics
import sys
import time
import zipfile
import zlib
from collections.abc import Callable
from email.message import EmailMessage

from privacy_filters.dlp import Limits, scan
from privacy_filters.dlp import pdftext

CARD = "4539148803436467"  # synthetic: passes Luhn


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _message(body: str = "Hello", html: str | None = None,
             attachments: tuple[tuple[bytes, str, str, str], ...] = ()) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.org"
    msg["To"] = "bob@example.net"
    msg["Subject"] = "Hi"
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for data, maintype, subtype, filename in attachments:
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


def html_unclosed(size: int) -> bytes:
    """Unclosed <title>/<head> tags, then a card the reader can see."""
    unit = "<title>x <head>y "
    markup = unit * (size // len(unit)) + f"<p>card number {CARD} exp 12/29</p>"
    return _message("see html", html=markup)


def shared_stream_pdf(pages: int = 200, ops: int = 6000, card: str = CARD) -> bytes:
    """A PDF whose pages all share one (large, well-compressed) content stream."""
    lines = [b"BT /F1 10 Tf 20 700 Td"]
    lines += [b"(word ) Tj 0 -1 Td"] * ops
    lines.append(f"(Card number {card}) Tj ET".encode())
    content = zlib.compress(b"\n".join(lines), 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content
        + b"\nendstream",
    ]
    font = b"/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>"
    for _ in range(pages):
        objs.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
                    + font + b" >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objs) + 1, xref))
    return out.getvalue()


def pdf_message(pages: int = 200, ops: int = 6000) -> bytes:
    return _message("report attached",
                    attachments=((shared_stream_pdf(pages, ops), "application", "pdf", "r.pdf"),))


def card_decoys(n: int = 400) -> bytes:
    """n card-shaped numbers that fail Luhn, then one real card."""
    decoys, k = [], 0
    while len(decoys) < n:
        number = f"4{k:015d}"
        k += 7
        if not _luhn_ok(number):
            decoys.append(f"ref {number}")
    return _message("\n".join(decoys) + f"\ncard number {CARD} exp 12/29\n")


def password_decoys(n: int = 400) -> bytes:
    body = "password: ********\n" * n + "password: Tr0ub4dor&3xq\n"
    return _message(body)


def nested_docx(depth: int = 1000) -> bytes:
    inner = "<w:p><w:r><w:t>x</w:t></w:r></w:p>"
    for _ in range(depth):
        inner = f"<w:tbl><w:tr><w:tc>{inner}</w:tc></w:tr></w:tbl>"
    xml = ('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
           f'wordprocessingml/2006/main"><w:body>{inner}</w:body></w:document>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # deflated, it looks like a bomb
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", xml)
    return _message("doc", attachments=((buf.getvalue(), "application", "octet-stream",
                                         "deep.docx"),))


def nested_zip(depth: int = 5) -> bytes:
    data = f"card {CARD}\n".encode()
    name = "inner.txt"
    for i in range(depth):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(name, data)
        data, name = buf.getvalue(), f"level{i}.zip"
    return _message("zip", attachments=((data, "application", "zip", "deep.zip"),))


def encrypted_zip() -> bytes:
    """A zip whose member has the encryption flag set (contents unreadable to us)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("secret.txt", b"\x8f\x12" * 64)
    data = bytearray(buf.getvalue())
    # general purpose flag bit 0 in the local header (offset 6) and the central header (8)
    data[6] |= 1
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 1
    return _message("zip", attachments=((bytes(data), "application", "zip", "locked.zip"),))


CASES: dict[str, Callable[[], bytes]] = {
    "html-unclosed-350KB": lambda: html_unclosed(350_000),
    "html-unclosed-2MB": lambda: html_unclosed(2_000_000),
    "pdf-200-pages-shared-stream": pdf_message,
    "pdf-1-page-3s-stream": lambda: pdf_message(1, 60_000),
    "html-unclosed-12MB": lambda: html_unclosed(12_000_000),
    "non-ascii-text-16MB": lambda: _message("caf\u00e9\u00a0" * 3_000_000 + f"\ncard number {CARD}"),
    "card-after-400-decoys": card_decoys,
    "card-after-20000-decoys": lambda: card_decoys(20_000),
    "password-after-400-masked": password_decoys,
    "docx-nested-1000": nested_docx,
    "zip-nested-5": nested_zip,
    "zip-encrypted": encrypted_zip,
}


def worker_cost(runs: int) -> None:
    """What reading PDFs in a worker process costs per message, against reading in-process."""
    small = _message("report attached",
                     attachments=((shared_stream_pdf(1, 20), "application", "pdf", "r.pdf"),))
    plain = _message("no attachment here")
    rounds = max(runs, 100)
    for label, raw in (("one-page PDF", small), ("plain text", plain)):
        for worker in (False, True):
            limits = Limits(pdf_worker=worker)
            scan(raw, limits)  # a warm worker, as in a running daemon
            start = time.perf_counter()
            for _ in range(rounds):
                scan(raw, limits)
            per = (time.perf_counter() - start) / rounds
            print(f"{label:14} worker={str(worker):5}  {per * 1e3:8.2f} ms/message "
                  f"({rounds} scans)")
    cold = []
    for _ in range(3):
        for proc in pdftext._pool:
            proc.kill()
            proc.wait()
        pdftext._pool.clear()
        start = time.perf_counter()
        scan(small)
        cold.append(time.perf_counter() - start)
    print(f"one-page PDF, worker started cold: {statistics.median(cold) * 1e3:.0f} ms "
          "(after a kill at the deadline, or the first PDF)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=None,
                        help="seconds from the start of each scan (default: Limits only)")
    parser.add_argument("--only", default=None)
    parser.add_argument("--worker-cost", action="store_true")
    args = parser.parse_args()
    if args.worker_cost:
        worker_cost(args.runs)
        return 0
    print(f"# {platform.python_implementation()} {platform.python_version()} on "
          f"{platform.machine()} {platform.node()}; median of {args.runs} runs")
    print(f"{'case':30} {'size':>9} {'median s':>9} {'max s':>7}  outcome")
    scan(_message("warm up"))
    for name, build in CASES.items():
        if args.only and args.only not in name:
            continue
        raw = build()
        times, report = [], None
        for _ in range(args.runs):
            deadline = time.monotonic() + args.deadline if args.deadline else None
            start = time.perf_counter()
            report = scan(raw, deadline=deadline)
            times.append(time.perf_counter() - start)
        assert report is not None
        found = ",".join(f"{f.category}:{f.confidence.label}" for f in report.findings) or "-"
        reasons = ",".join(getattr(report, "unscannable_reasons", ())) or str(report.unscannable)
        print(f"{name:30} {len(raw):>9} {statistics.median(times):>9.3f} {max(times):>7.3f}  "
              f"found={found} unscannable={reasons}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
