"""Issue 29's probe classes: one clear secret per message, hidden by a place, an encoding,
markup or a written form; and hard negatives that use the same places and forms innocently.

A probe returns (headers to add or replace, body part bytes, labels). The secret itself is
plainly labelled ("Card number:", "IBAN:", "Password:"...) so that only the trick decides.
Written from the issue's classes and how mail clients and office suites store text, not
from the scanner.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from html import escape

import common as v
import containers as c

Probe = tuple[list[tuple[str, str]], bytes, tuple[str, ...]]
KINDS = ("payment_card", "iban", "uk_bank_account", "password")
LABEL = {"payment_card": "Card number", "iban": "IBAN", "uk_bank_account": "Bank details",
         "password": "Password"}
_URL_SAFE = string.ascii_letters + string.digits + "!*-_."


class Secret:
    """One synthetic secret of a kind, in its full and short written forms."""

    def __init__(self, kind: str, r: random.Random) -> None:
        self.kind = kind
        if kind == "payment_card":
            self.raw = v.card(r, r.choice(("Visa", "Mastercard", "Visa", "Amex", "Maestro")))
            self.value = v.group_card(self.raw)
            self.full = f"Card number: {self.value}, expiry {v.expiry(r)}"
        elif kind == "iban":
            self.raw = v.iban(r, r.choice(("GB", "DE", "FR", "NL", "IE", "PL")))
            self.value = v.group4(self.raw)
            self.full = f"IBAN: {self.value}"
        elif kind == "uk_bank_account":
            self.sc, self.acc = v.sort_code(r), v.account(r)
            self.raw = self.sc + self.acc
            self.value = f"{v.fmt_sort(self.sc)} {self.acc}"
            self.full = f"Sort code {v.fmt_sort(self.sc)}, account number {self.acc}"
        else:
            while True:
                self.raw = v.secret(r)
                if all(ch in _URL_SAFE for ch in self.raw) and len(self.raw) <= 22:
                    break
            self.value = self.raw
            self.full = f"Password: {self.raw}"
        self.short = self.full if len(self.full) <= 31 else f"{LABEL[kind]} {self.value}"
        # the run of digits (or the password) inside `full`, where a fold or a cut goes
        self.anchor = self.acc if kind == "uk_bank_account" else self.value
        self.labels: tuple[str, ...] = (kind,)


def _kind(i: int, kinds: tuple[str, ...] = KINDS) -> str:
    return kinds[i % len(kinds)]


def _plain(text: str) -> bytes:
    return v.text_part(text)


def _html(body: str, head: str = "") -> bytes:
    return v.text_part(f"<html><head>{head}</head><body>{body}</body></html>", "html")


def _with_attachment(text: str, data: bytes, ctype: str, name: str, i: int,
                     cte: str = "base64") -> bytes:
    return v.multipart("mixed", [_plain(text), v.attachment(data, ctype, name, cte)], f"p-{i:05d}")


# ---------------------------------------------------------------------------------------
# Places never read

def html_alt(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    return [], _html(f'<p>Hi, details in the picture below.</p><img src="cid:img{i}" '
                     f'alt="{escape(s.full)}" width="300"><p>Thanks</p>'), s.labels


def html_title_attr(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    tag = r.choice((f'<span title="{escape(s.full)}">hover here</span>',
                    f'<a href="https://example.co.uk/booking" title="{escape(s.full)}">the booking</a>',
                    f'<abbr title="{escape(s.full)}">details</abbr>'))
    return [], _html(f"<p>Hi, the details are on {tag}.</p>"), s.labels


def html_title_element(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    return [], _html("<p>See the title of this page.</p>", f"<title>{escape(s.full)}</title>"), s.labels


def display_name(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    field = ("From", "To", "Reply-To", "Cc")[i % 4]
    quoted = s.short.replace("\\", "\\\\").replace('"', '\\"')
    return [(field, f'"{quoted}" <office@example.co.uk>')], _plain("See the name above.\n"), s.labels


def x_header(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    name = ("X-Note", "X-Comment", "X-Booking-Notes", "X-Internal", "X-Customer-Ref",
            "X-Memo")[i % 6]
    return [(name, s.full)], _plain("Details in the header, as agreed.\n"), s.labels


def attached_message_headers(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    field = ("From", "X-Note", "Comments", "Keywords", "Organization", "To")[i % 6]
    value = f'"{s.short}" <sam@example.org>' if field in ("From", "To") else s.full
    heads = {"From": "Sam <sam@example.org>", "To": "office@example.co.uk",
             "Subject": "Booking", "Date": "Mon, 1 Sep 2025 09:00:00 +0100"}
    heads[field] = value
    inner = ("".join(f"{k}: {val}\r\n" for k, val in heads.items())
             + "Content-Type: text/plain; charset=utf-8\r\n\r\nSee you on Monday.\r\n").encode()
    part = (b"Content-Type: message/rfc822\r\nContent-Disposition: attachment; "
            b"filename=\"booking.eml\"\r\n\r\n" + inner)
    return [], v.multipart("mixed", [_plain("Forwarding the original as an attachment.\n"), part],
                           f"p-{i:05d}"), s.labels


def docx_comments(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    data = c.docx("Draft agreement for review.", comment=s.full)
    return [], _with_attachment("Draft attached, see my comment.\n", data, "application/"
                                "vnd.openxmlformats-officedocument.wordprocessingml.document",
                                "draft.docx", i), s.labels


def docx_properties(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    where = i % 4
    core = [{"description": s.full}, {"keywords": s.full}, {"subject": s.full}, {}][where]
    custom = ("Notes", s.full) if where == 3 else None
    data = c.docx("Booking form.", core=core, custom=custom)
    return [], _with_attachment("Form attached.\n", data, "application/vnd.openxmlformats-"
                                "officedocument.wordprocessingml.document", "form.docx", i), s.labels


def pptx_notes(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    data = c.pptx("Q3 kick-off", notes=s.full)
    return [], _with_attachment("Slides for Monday.\n", data, "application/vnd.openxmlformats-"
                                "officedocument.presentationml.presentation", "kickoff.pptx", i), s.labels


def _xlsx_mail(data: bytes, i: int) -> bytes:
    return _with_attachment("Spreadsheet attached.\n", data, "application/vnd.openxmlformats-"
                            "officedocument.spreadsheetml.sheet", "budget.xlsx", i)


def xlsx_comments(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    data = (c.xlsx("Budget", comment=s.full) if i % 2 == 0 else c.xlsx("Budget", threaded=s.full))
    return [], _xlsx_mail(data, i), s.labels


def xlsx_defined_names(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    name = {"payment_card": "CardNumber", "iban": "IBAN", "uk_bank_account": "BankDetails",
            "password": "Password"}[s.kind]
    return [], _xlsx_mail(c.xlsx("Budget", defined=(name, f'"{s.value}"')), i), s.labels


def xlsx_sheet_names(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    name = s.short
    if len(name) > 31:
        name = f"{LABEL[s.kind]} {s.raw}" if len(s.raw) + len(LABEL[s.kind]) < 31 else s.raw
    name = "".join(ch for ch in name if ch not in ":\\/?*[]")
    return [], _xlsx_mail(c.xlsx("Budget", sheet_name=name), i), s.labels


def xlsx_formula(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    return [], _xlsx_mail(c.xlsx("Budget", formula=f'"{s.full}"'), i), s.labels


def _pdf_mail(data: bytes, i: int) -> bytes:
    return _with_attachment("PDF attached.\n", data, "application/pdf", "form.pdf", i)


def pdf_annotations(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    return [], _pdf_mail(c.pdf("Invoice 2025-09, see the note.", annot=s.full), i), s.labels


def pdf_form_fields(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    return [], _pdf_mail(c.pdf("Booking form", field=(LABEL[s.kind], s.value)), i), s.labels


def pdf_info(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    key = ("Subject", "Keywords", "Title", "Author")[i % 4]
    return [], _pdf_mail(c.pdf("Booking form", info={key: s.full}), i), s.labels


# ---------------------------------------------------------------------------------------
# Skipped silently

def _note(s: Secret) -> bytes:
    return f"Notes for the new starter\n\n{s.full}\n".encode()


def gzip_file(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    return [], _with_attachment("Compressed notes attached.\n", c.gz(_note(s), "notes.txt"),
                                r.choice(("application/gzip", "application/x-gzip")),
                                "notes.txt.gz", i), s.labels


def tar_file(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    data = c.tar([("readme.txt", b"Site files\n"), ("notes.txt", _note(s))])
    return [], _with_attachment("Archive attached.\n", data, "application/x-tar", "site.tar", i), s.labels


def tar_gz_file(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    data = c.tar([("site/readme.txt", b"Site files\n"), ("site/notes.txt", _note(s))], compress=True)
    name = ("site.tar.gz", "site.tgz")[i % 2]
    return [], _with_attachment("Archive attached.\n", data, "application/gzip", name, i), s.labels


def utf32_text(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    charset, codec = (("utf-32", "utf-32"), ("utf-32le", "utf-32-le"), ("utf-32be", "utf-32-be"))[i % 3]
    data = f"Hello,\n\n{s.full}\n\nThanks\n".encode(codec)
    head = (f"Content-Type: text/plain; charset=\"{charset}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    return [], head + v.body_bytes(data, "base64"), s.labels


def odd_charset(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    charset = ("ibm500", "ibm037", "utf-7", "cp1026", "iso-8859-16", "windows-1250",
               "macintosh", "ibm850")[i % 8]
    data = f"Dzień dobry,\n\n{s.full}\n\nPozdrawiam\n".encode(charset, "replace")
    head = (f"Content-Type: text/plain; charset=\"{charset}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n").encode()
    return [], head + v.body_bytes(data, "base64"), s.labels


# ---------------------------------------------------------------------------------------
# Rendered differently from what the reader sees

_DIGIT_KINDS = ("payment_card", "iban", "uk_bank_account")


def _hide_inside(value: str, r: random.Random, style: str) -> str:
    """The value with a hidden character pushed inside it (the reader sees the value)."""
    cut = r.randrange(3, len(value) - 2)
    junk = r.choice(("7", "0", "x", "-", "1"))
    return (escape(value[:cut]) + f'<span style="{style}">{junk}</span>' + escape(value[cut:]))


def css_hidden(style_choices: tuple[str, ...]) -> Callable[[random.Random, int], Probe]:
    def probe(r: random.Random, i: int) -> Probe:
        s = Secret(_kind(i, _DIGIT_KINDS), r)
        style = style_choices[i % len(style_choices)]
        label = LABEL[s.kind]
        return [], _html(f"<p>Hi,</p><p>{label}: {_hide_inside(s.value, r, style)}</p>"
                         "<p>Thanks</p>"), s.labels
    return probe


def groups_in_blocks(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i, ("payment_card", "iban")), r)
    tag = ("div", "p", "div", "td")[i % 4]
    groups = s.value.split()
    if tag == "td":
        inner = "<table><tr>" + "".join(f"<td>{g}</td>" for g in groups) + "</tr></table>"
    else:
        inner = "".join(f"<{tag}>{g}</{tag}>" for g in groups)
    return [], _html(f"<p>{LABEL[s.kind]}:</p>{inner}<p>Thanks</p>"), s.labels


def groups_blank_lines(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i, ("payment_card", "iban")), r)
    gap = "\n\n" if i % 2 == 0 else "\n \n"
    return [], _plain(f"Hi,\n\n{LABEL[s.kind]}:\n\n" + gap.join(s.value.split()) + "\n\nThanks\n"), s.labels


def _fold_inside(line: str, value: str) -> str:
    """An iCalendar/vCard content line folded (CRLF + space) in the middle of the value."""
    at = line.index(value) + len(value) // 2
    return line[:at] + "\r\n " + line[at:]


def ical_folding(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    desc = f"DESCRIPTION:Team offsite. {s.full.replace(',', chr(92) + ',')}"
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Probe//EN\r\nBEGIN:VEVENT\r\n"
           f"UID:probe-{i}@example.co.uk\r\nDTSTAMP:20250901T090000Z\r\n"
           "DTSTART:20250915T090000Z\r\nSUMMARY:Offsite\r\n"
           f"{_fold_inside(desc, s.anchor)}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    if i % 2:
        part = ("Content-Type: text/calendar; charset=\"utf-8\"; method=PUBLISH\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n" + ics).encode()
        return [], v.multipart("alternative", [_plain("Invitation: Offsite\n"), part], f"p-{i:05d}"), s.labels
    return [], _with_attachment("Invitation attached.\n", ics.encode(), "text/calendar",
                                "invite.ics", i), s.labels


def vcard_folding(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    note = f"NOTE:{s.full.replace(',', chr(92) + ',')}"
    vcf = ("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Sam Evans\r\nN:Evans;Sam;;;\r\n"
           "ORG:Example Trading Ltd\r\n" + _fold_inside(note, s.anchor) + "\r\nEND:VCARD\r\n")
    return [], _with_attachment("My contact card.\n", vcf.encode(), "text/vcard", "sam.vcf", i), s.labels


# ---------------------------------------------------------------------------------------
# Written forms

_SEPS = ("·", "•", "/", "_", "|", ",", ";", " · ", " | ")


def separators(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i, _DIGIT_KINDS), r)
    sep = _SEPS[i % len(_SEPS)]
    if s.kind == "uk_bank_account":
        text = f"Sort code {v.fmt_sort(s.sc, sep)}, account number {s.acc}"
    elif s.kind == "iban":
        text = f"IBAN: {sep.join(s.value.split())}"
    else:
        text = f"Card number: {sep.join(s.value.split())}"
    return [], _plain(f"Hi,\n\n{text}\n\nThanks\n"), s.labels


def every_digit_spaced(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i, _DIGIT_KINDS), r)
    spaced = " ".join(s.raw)
    if s.kind == "uk_bank_account":
        text = f"Sort code {' '.join(s.sc)}, account number {' '.join(s.acc)}"
    else:
        text = f"{LABEL[s.kind]}: {spaced}"
    return [], _plain(f"Hi,\n\n{text}\n\nThanks\n"), s.labels


def eight_eight(r: random.Random, i: int) -> Probe:
    number = v.card(r, ("Visa", "Mastercard", "Discover", "JCB")[i % 4])
    return [], _plain(f"Hi,\n\nCard number: {number[:8]} {number[8:]}\n\nThanks\n"), ("payment_card",)


def other_digits(zero: int) -> Callable[[random.Random, int], Probe]:
    def probe(r: random.Random, i: int) -> Probe:
        s = Secret(_kind(i, _DIGIT_KINDS), r)
        table = {ord(d): chr(zero + int(d)) for d in string.digits}
        if s.kind == "uk_bank_account":
            text = (f"Sort code {v.fmt_sort(s.sc).translate(table)}, "
                    f"account number {s.acc.translate(table)}")
        else:
            text = f"{LABEL[s.kind]}: {s.value.translate(table)}"
        return [], _plain(f"Hi,\n\n{text}\n\nThanks\n"), s.labels
    return probe


def account_dashed(r: random.Random, i: int) -> Probe:
    sc, acc = v.sort_code(r), v.account(r)
    form = ("Sort code {sc}, account {a}", "Account {a}, sort code {sc}",
            "SC {sc} / A/C {a}", "Bank: Lloyds\nSort code: {sc}\nAccount number: {a}")[i % 4]
    text = form.format(sc=v.fmt_sort(sc), a=f"{acc[:4]}-{acc[4:]}")
    return [], _plain(f"Hi,\n\nPlease pay the deposit to:\n{text}\n\nThanks\n"), ("uk_bank_account",)


def _pw(r: random.Random) -> str:
    return Secret("password", r).raw


def cli_options(r: random.Random, i: int) -> Probe:
    p = _pw(r)
    line = (f"mysql -u admin -p'{p}' -h db1.internal shop",
            f"mysql -uroot -p{p} shop < dump.sql",
            f"curl -u deploy:{p} https://ci.example.co.uk/job/build",
            f"sshpass -p '{p}' ssh admin@10.20.0.5",
            f"smbclient //nas/office -U office%{p}",
            f"docker login -u ci -p {p} registry.example.co.uk",
            f"mysqldump -u backup --password={p} --all-databases",
            f'net use Z: \\\\nas\\office {p} /user:office')[i % 8]
    return [], _plain(f"Hi,\n\nRun this on the box:\n\n    {line}\n\nThanks\n"), ("password",)


def code_keys(r: random.Random, i: int) -> Probe:
    p = _pw(r)
    line = (f"dbPassword: {p}", f'db_pass = "{p}"', f'{{"adminPwd": "{p}", "port": 5432}}',
            f"SMTP_PASS={p}", f"mailPassphrase: '{p}'", f"wifi_psk={p}", f"ftpPasswd = {p}",
            f"<add key=\"DbPassword\" value=\"{p}\" />")[i % 8]
    return [], _plain(f"Hi,\n\nThe config for staging:\n\n{line}\n\nThanks\n"), ("password",)


def url_userinfo(r: random.Random, i: int) -> Probe:
    p = _pw(r)
    url = (f"https://admin:{p}@nas.example.co.uk:5001/", f"ftp://upload:{p}@ftp.example.com/in/",
           f"postgres://app:{p}@db.internal:5432/prod", f"smb://office:{p}@nas/share",
           f"mongodb+srv://svc:{p}@cluster0.example.net/app", f"https://deploy:{p}@git.example.co.uk/site.git",
           f"redis://:{p}@cache.internal:6379/0", f"amqp://queue:{p}@mq.internal:5672/")[i % 8]
    return [], _plain(f"Hi,\n\nUse {url}\n\nThanks\n"), ("password",)


def bracket_labels(r: random.Random, i: int) -> Probe:
    p = _pw(r)
    label = ("Password [NAS]", "Password (case sensitive)",
             "Password (the new one, not the one we used at the old office)", "Password {router}",
             "PASSWORD [temporary, change it on first login]", "Password <admin>",
             "Password (WiFi, 5 GHz network)", "Password [shared mailbox]")[i % 8]
    return [], _plain(f"Hi,\n\n{label}: {p}\n\nThanks\n"), ("password",)


def value_next_line(r: random.Random, i: int) -> Probe:
    s = Secret(_kind(i), r)
    lead = {"password": ("The new password for the VPN is:", "Your temporary password is:",
                         "The WiFi password, in case you need it, is:"),
            "payment_card": ("The card number is:", "The card we use for suppliers is:"),
            "iban": ("Our IBAN is:", "The account to pay into is:"),
            "uk_bank_account": ("Our bank details are:", "Pay the deposit into:")}[s.kind]
    value = s.value if s.kind != "uk_bank_account" else f"{v.fmt_sort(s.sc)} {s.acc}"
    gap = ("\n", "\n\n", "\n    ")[i % 3]
    return [], _plain(f"Hi,\n\n{r.choice(lead)}{gap}{value}\n\nThanks\n"), s.labels


# ---------------------------------------------------------------------------------------
# The card-veto defect

_VETO = ("Here's the card for the hotel booking: {c}, expiry {e}",
         "My membership card: {c}", "Use this card for the train tickets: {c} exp {e}",
         "Card for the insurance policy renewal: {c}",
         "I gave it to them on the phone but here it is again: card {c}",
         "Can you test it with my card {c} exp {e}?", "Ticket payment, card {c}",
         "Policy renewal: please charge card {c}", "Membership renewal, card number {c}",
         "The card I used on the phone was {c}", "Book the tickets with my card: {c}",
         "Hotel booking card {c}, expiry {e}")


def card_veto(r: random.Random, i: int) -> Probe:
    number = v.card(r, ("Visa", "Mastercard", "Amex", "Maestro")[i % 4])
    sep = (" ", "", "-")[i % 3]
    text = _VETO[i % len(_VETO)].format(c=v.group_card(number, sep), e=v.expiry(r))
    return [], _plain(f"Hi,\n\n{text}\n\nThanks\n"), ("payment_card",)


# ---------------------------------------------------------------------------------------
# Hard negatives: the same places, encodings and forms, used innocently

def _digits(r: random.Random, n: int) -> str:
    return str(r.randint(1, 9)) + "".join(r.choice(string.digits) for _ in range(n - 1))


def _not_luhn(r: random.Random) -> str:
    body = "4" + "".join(r.choice(string.digits) for _ in range(14))
    bad = str((int(v.luhn_digit(body)) + r.randint(1, 9)) % 10)
    return body + bad


def neg_places(r: random.Random, i: int) -> Probe:
    k = i % 10
    if k == 0:
        return [], _html('<img src="cid:logo" alt="Example Trading Ltd logo"><p>Newsletter</p>',
                         "<title>September newsletter 2025</title>"), ()
    if k == 1:
        return [("X-Mailer", "Microsoft Outlook 16.0.17928.20114"), ("X-Spam-Score", "2.1"),
                ("X-Order-Ref", f"ORD-2025-{_digits(r, 6)}")], _plain("Order confirmed.\n"), ()
    if k == 2:
        return [("From", '"Accounts Team (Ref 1042)" <accounts@example.co.uk>')], \
            _plain("Statement attached soon.\n"), ()
    if k == 3:
        data = c.docx("Contract draft v3.", comment="Please check clause 4.2 before 12/09/2025.",
                      core={"title": "Contract 2025-0912", "keywords": "contract; draft; v3"})
        return [], _with_attachment("Draft attached.\n", data, "application/vnd.openxmlformats-"
                                    "officedocument.wordprocessingml.document", "draft.docx", i), ()
    if k == 4:
        data = c.pptx("Q3 results", notes=f"Mention revenue of 1,204,330 and {_digits(r, 4)} new customers.")
        return [], _with_attachment("Slides.\n", data, "application/vnd.openxmlformats-"
                                    "officedocument.presentationml.presentation", "q3.pptx", i), ()
    if k == 5:
        data = c.xlsx("Orders", comment="Checked by SM", defined=("TaxRate", "0.2"),
                      sheet_name="Orders 2025-09", formula="SUM(B1:B40)")
        return [], _xlsx_mail(data, i), ()
    if k == 6:
        data = c.pdf("Invoice 2025-0912", annot="Approved - SM 01/09/2025",
                     field=("Name", "Sam Evans"), info={"Title": "Invoice 2025-0912",
                                                        "Keywords": "invoice, September"})
        return [], _pdf_mail(data, i), ()
    if k == 7:
        heads = ("From: Sam <sam@example.org>\r\nTo: office@example.co.uk\r\nSubject: Hello\r\n"
                 f"X-Originating-IP: [192.0.2.{r.randint(1, 254)}]\r\nMessage-ID: <{_digits(r, 12)}@example.org>\r\n"
                 "Content-Type: text/plain\r\n\r\nSee you Monday.\r\n").encode()
        part = b"Content-Type: message/rfc822\r\n\r\n" + heads
        return [], v.multipart("mixed", [_plain("Original attached.\n"), part], f"p-{i:05d}"), ()
    if k == 8:
        return [], _html('<p>Read our <a href="https://example.co.uk/terms" title="Terms and '
                         'conditions, version 4.2">terms</a>.</p>'), ()
    return [("X-Ticket", f"#{_digits(r, 7)}")], _html(
        f'<p>Ticket <span title="Opened 2025-09-01 09:14">#{_digits(r, 7)}</span> is closed.</p>'), ()


def neg_hidden(r: random.Random, i: int) -> Probe:
    k = i % 6
    if k == 0:
        return [], _html('<div style="display:none">View this email in your browser</div>'
                         "<p>Our September offers.</p>"), ()
    if k == 1:
        return [], _html(f'<p>Order {_digits(r, 8)}<span style="font-size:0">&nbsp;</span> has shipped.</p>'), ()
    if k == 2:
        return [], _html("<p>Call us:</p><div>020</div><div>7946</div><div>0" + _digits(r, 3) + "</div>"), ()
    if k == 3:
        return [], _plain("Quantities:\n\n12\n\n40\n\n1500\n\n7\n\nTotal 1559\n"), ()
    if k == 4:
        mid = f"{_digits(r, 3)} {_digits(r, 4)} {_digits(r, 4)}"
        desc = f"DESCRIPTION:Join the call: meeting ID {mid}\\, dial-in +44 20 7946 0{_digits(r, 3)}"
        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nUID:neg@example.co.uk\r\n"
               "DTSTART:20250915T090000Z\r\nSUMMARY:Weekly call\r\n"
               f"{_fold_inside(desc, mid)}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
        return [], _with_attachment("Invite.\n", ics.encode(), "text/calendar", "invite.ics", i), ()
    return [], _html(f'<p>Ref <span style="display:none">x</span>{_digits(r, 6)}</p>'), ()


def neg_containers(r: random.Random, i: int) -> Probe:
    log = (f"2025-09-01 09:00:01 INFO start pid={_digits(r, 5)}\n2025-09-01 09:00:02 INFO "
           f"listening on 127.0.0.1:8080\nrequest id {_digits(r, 12)} done in 23 ms\n").encode()
    k = i % 5
    if k == 0:
        return [], _with_attachment("Log attached.\n", c.gz(log, "app.log"), "application/gzip", "app.log.gz", i), ()
    if k == 1:
        data = c.tar([("CHANGELOG", b"v2.14.3 2025-09-01\nv2.14.2 2025-08-12\n"), ("app.log", log)])
        return [], _with_attachment("Release.\n", data, "application/x-tar", "release.tar", i), ()
    if k == 2:
        data = c.tar([("rel/CHANGELOG", b"v2.14.3 2025-09-01\n")], compress=True)
        return [], _with_attachment("Release.\n", data, "application/gzip", "release.tgz", i), ()
    if k == 3:
        data = f"Order {_digits(r, 8)} shipped on 01/09/2025.\n".encode("utf-32")
        head = b"Content-Type: text/plain; charset=\"utf-32\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        return [], head + v.body_bytes(data, "base64"), ()
    data = f"Order {_digits(r, 8)} shipped on 01/09/2025.\n".encode("cp500")
    head = b"Content-Type: text/plain; charset=\"ibm500\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    return [], head + v.body_bytes(data, "base64"), ()


def neg_forms(r: random.Random, i: int) -> Probe:
    tail = _digits(r, 3)
    items = [f"Phone 020·7946·0{tail}", f"+44 (0)20 7946 0{tail}", "Dates: 2025/09/01, 01.09.2025",
             f"Server 192.168.{r.randint(0, 255)}.{r.randint(1, 254)}", "MAC 00:1A:2B:3C:4D:5E",
             f"Total £1,{_digits(r, 3)},{_digits(r, 3)}.89", "Open 09:00–17:30",
             "٠٢٠ ٧٩٤٦ ٠" + "".join(chr(0x660 + int(d)) for d in tail),
             f"Version v2.{r.randint(1, 20)}.{r.randint(0, 9)}", f"Ticket {_digits(r, 4)}-{_digits(r, 4)}",
             f"Ref {'·'.join(_not_luhn(r)[j:j + 4] for j in (0, 4, 8, 12))}",
             "Parts: 12/06/24 and 20240611", "Grid ref 51.5072, -0.1276"]
    return [], _plain("Hi,\n\n" + "\n".join(r.sample(items, 3)) + "\n\nThanks\n"), ()


def neg_cli(r: random.Random, i: int) -> Probe:
    items = ["mysql -u admin -p -h db1.internal shop", "ssh -p 2222 deploy@10.20.0.5",
             "curl -u deploy https://ci.example.co.uk/job/build",
             "sshpass -f ~/.sshpass ssh admin@10.20.0.5",
             "git clone https://github.com/example/site.git", "Open https://sam@git.example.co.uk/",
             "password=${DB_PASSWORD}", 'dbPassword: ""', 'db_pass = os.environ["DB_PASS"]',
             '{"adminPwd": "<set me>"}', "docker login -u ci --password-stdin registry.example.co.uk",
             "docker run -p 8080:80 nginx", "Password [NAS]: ask Sam", "The new password is:\n(on the sticker)",
             "passwd: unlocking the account", "pw reset done, ticket closed"]
    return [], _plain("Hi,\n\n" + "\n".join(r.sample(items, 3)) + "\n\nThanks\n"), ()


def neg_card_words(r: random.Random, i: int) -> Probe:
    items = [f"My membership number is {_digits(r, 8)}", f"Ticket number {_digits(r, 4)} {_digits(r, 4)} {_digits(r, 4)}",
             f"Policy number POL-{_digits(r, 8)}", "Booking reference 6Q7XJ2",
             "Gift card code ABCD-EFGH-JKLM", f"The card ending {_digits(r, 4)} was declined",
             f"Card reader model 4400-{_digits(r, 4)}", f"Call me on the phone: 07700 900{_digits(r, 3)}",
             f"Hotel booking confirmation {_digits(r, 10)}", f"Card {_not_luhn(r)} was rejected as invalid"]
    return [], _plain("Hi,\n\n" + "\n".join(r.sample(items, 3)) + "\n\nThanks\n"), ()
