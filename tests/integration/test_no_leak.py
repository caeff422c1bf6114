"""No found value in any byte the system writes (issue 13). Distinct secrets (a card, an IBAN,
a sort code and account number, a password) are planted in every place a sender controls:
the body, the Subject, a free-text header, an attachment's file name, a zip member's name, a
zipped text file, an HTML part and a PDF. They go through Postfix with the metrics endpoint
on; then the weekly summary is rendered (--preview and --html). Every file under the daemon's
directories (store, WAL, key, log), Postfix's maillog (its queue is excluded: held mail is
the mail itself), the SMTP replies, the delivered headers, the metrics scrape and the
summary output are searched for each secret, its digits alone, and every 6-digit run of it."""

from __future__ import annotations

import datetime
import io
import re
import shutil
import smtplib
import urllib.request
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.harness import smtp
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.ports import free_port
from tests.harness.postfix import PostfixInstance
from tests.harness.sink import Sink

pytestmark = pytest.mark.postfix

PLACES = ("body", "subject", "header", "filename", "zip_member", "zip_text", "html", "pdf")


def luhn(prefix: str) -> str:
    for check in "0123456789":
        n = prefix + check
        total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 else d
                    for i, d in enumerate(int(c) for c in reversed(n)))
        if total % 10 == 0:
            return n
    raise AssertionError


def iban(bban: str) -> str:
    number = int("".join(str(int(c, 36)) for c in bban + "GB00"))
    return f"GB{98 - number % 97:02d}{bban}"


def spaced(s: str) -> str:
    return " ".join(s[i:i + 4] for i in range(0, len(s), 4))


# Per place, one value of each kind, none sharing a 6-digit run with another.
SECRETS = {place: {
    "card": spaced(luhn(f"45391488{n}7{n}3{n}8{n}")),
    "iban": spaced(iban(f"MIDL4005{n}17{n}2{n}4{n}6{n}")),
    "account": f"3{n}8{n}6{n}2{n}",
    "password": f"Qz{n}!vR7#mK{n}pW",
} for n, place in enumerate(PLACES, 1)}
SORT_CODE = "20-00-00"


def text_for(place: str) -> str:
    s = SECRETS[place]
    return (f"Card {s['card']} exp 09/27. Please pay to IBAN {s['iban']}. Sort code {SORT_CODE}, "
            f"account number {s['account']}. Your new password is: {s['password']}")


def pdf(text: str) -> bytes:
    stream = f"BT /F1 10 Tf 40 720 Td ({text}) Tj ET".encode()
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
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
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def zipped(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, data)
    return buf.getvalue()


def build(place: str) -> bytes:
    text = text_for(place)
    m = EmailMessage()
    m["From"], m["To"] = "alice@shop.example", "bob@far.example"
    m["Subject"] = text if place == "subject" else f"leak check {place}"
    if place == "header":
        m["X-Customer-Note"] = text
    m.set_content(text if place == "body" else "Please see the attached details.")
    if place == "html":
        m.add_alternative(f"<html><body><p>{text}</p></body></html>", subtype="html")
    elif place == "filename":
        m.add_attachment(b"nothing here", maintype="application", subtype="octet-stream",
                         filename=f"{text}.bin")
    elif place == "zip_member":
        m.add_attachment(zipped(f"{text}.txt", b"nothing here"), maintype="application", subtype="zip",
                         filename="details.zip")
    elif place == "zip_text":
        m.add_attachment(zipped("details.txt", text.encode()), maintype="application", subtype="zip",
                         filename="details.zip")
    elif place == "pdf":
        m.add_attachment(pdf(text), maintype="application", subtype="pdf", filename="details.pdf")
    return m.as_bytes()


def header_fields(raw: bytes) -> list[tuple[str, str]]:
    """(name, unfolded raw value) of each header field."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].decode("latin-1")
    fields = re.findall(r"^([^\s:]+):[ \t]*(.*(?:\n[ \t].*)*)", head, re.M)
    return [(k, " ".join(v.split())) for k, v in fields]


def mid_of(raw: bytes) -> str:
    return dict((k.lower(), v) for k, v in header_fields(raw)).get("message-id", "?")


POSTFIX_QUEUE_ID = re.compile(r"postfix/[\w/-]+\[\d+\]: ([0-9A-F]{6,}|[0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]{12,}): ")
POSTFIX_MESSAGE_ID = re.compile(r"<\d{14}\.")  # Postfix's own Message-ID: <YYYYMMDDhhmmss.QUEUEID@host>


def scrub(text: str, queue_ids: set[str]) -> str:
    """Take out what Postfix numbered by itself (queue ids, the time in a Message-ID it added),
    which may contain any six digits by chance: a queue id 9117121045B once held "117121", a
    6-digit run of a planted IBAN. Everything else is searched as written."""
    for qid in queue_ids:
        text = text.replace(qid, "QUEUEID")
    return POSTFIX_MESSAGE_ID.sub("<TIME.", text)


def forms(secret: str) -> set[str]:
    """The value as written, without spaces, its digits alone, and every 6-digit run of those."""
    digits = "".join(c for c in secret if c.isdigit())
    out = {secret, secret.replace(" ", "")}
    if len(digits) >= 6:
        out.add(digits)
        out.update(digits[i:i + 6] for i in range(len(digits) - 5))
    return out


@pytest.fixture
def root():
    path = harness_dir("no-leak")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_no_planted_secret_in_any_byte_written(root):
    metrics_port = free_port()
    policy = (f'[network]\ntrusted_networks = ["127.0.0.1/32"]\n[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
              '[filters.dlp.actions]\n'
              'payment_card = { high = "tag", medium = "tag", low = "log" }\n'
              'password = { high = "reject", medium = "tag", low = "log" }\n')
    milter = MilterProcess(root / "milter", policy)
    replies: list[str] = []
    sent_fields: set[tuple[str, str]] = set()
    with Sink() as sink:
        milter.start()
        postfix = PostfixInstance(root / "postfix", relay_port=sink.port, milter=milter.spec).start()
        try:
            for place in PLACES:
                raw = build(place)
                sent_fields.update((k.lower(), v) for k, v in header_fields(raw))
                try:
                    smtp.send(postfix.smtpd_port, raw, "alice@shop.example", ["bob@far.example"])
                except smtplib.SMTPDataError as exc:
                    replies.append(f"{exc.smtp_code} {exc.smtp_error.decode(errors='replace')}")
            stats = milter.wait_for_records(len(PLACES), timeout=30)
            delivered = len(PLACES) - len(replies)
            sink.wait_for(delivered, timeout=30)
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as r:
                scrape = r.read().decode()
        finally:
            postfix.stop()
            milter.stop()  # every record in the store files
    # The scan found them: otherwise there is nothing that could have leaked.
    assert stats["messages"] == len(PLACES)
    assert replies, "the password rule rejected at least one message: its reply is checked"
    tagged = [m for m in sink.messages if b"X-Privacy" in m.raw.split(b"\r\n\r\n", 1)[0]]
    assert tagged, "a delivered message carries findings: its headers are checked"
    found_in = [ln for ln in milter.log().splitlines() if "direction=" in ln and "findings=none" not in ln]
    assert len(found_in) >= 5, "body, subject, zipped text, HTML and PDF: found (other places by newer DLP)"
    week = "%d-W%02d" % datetime.date.today().isocalendar()[:2]
    preview = milter.cli("summary", "--preview", "--week", week, "--store", str(milter.store_path))
    assert preview.returncode == 0, preview.stderr
    assert "shop.example" in preview.stdout or "far.example" in preview.stdout or preview.stdout.strip()
    html_dir = root / "summary"
    html_dir.mkdir()
    html = milter.cli("summary", "--html", str(html_dir / "summary.html"), "--week", week,
                      "--store", str(milter.store_path))
    assert html.returncode == 0, html.stderr
    texts: dict[str, str] = {
        "smtp replies": "\n".join(replies), "metrics scrape": scrape, "maillog": postfix.maillog(),
        "summary --preview": preview.stdout + preview.stderr, "summary --html stderr": html.stderr,
    }
    # Delivered headers: those added on the way (the sender's own Subject is the mail itself).
    for m in sink.messages:
        added = [f"{k}: {v}" for k, v in header_fields(m.raw) if (k.lower(), v) not in sent_fields]
        texts[f"headers added to delivered message {mid_of(m.raw)}"] = "\n".join(added)
    for base in (milter.base, html_dir):
        for path in Path(base).rglob("*"):
            if path.is_file():
                texts[str(path)] = path.read_bytes().decode("latin-1")
    assert any("meta.db" in k for k in texts) and any("milter.log" in k for k in texts)
    queue_ids = set(POSTFIX_QUEUE_ID.findall(texts["maillog"]))
    assert queue_ids, "the maillog names the queue ids it scrubs"
    texts = {where: scrub(text, queue_ids) for where, text in texts.items()}
    found = []
    for place, kinds in SECRETS.items():
        for kind, secret in kinds.items():
            for form in forms(secret):
                found += [f"{kind} from {place} ({form!r}) in {where}" for where, text in texts.items() if form in text]
    assert not found, "\n".join(found[:20])
