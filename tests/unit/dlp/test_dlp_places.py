"""Issue 29: every place a person can read is a place a secret can be. Each test puts a
clearly labelled secret in one such place and nowhere else."""

from email.message import EmailMessage
from email.headerregistry import Address

from privacy_filters.dlp import scan

from dlp_helpers import categories, luhn_complete, make_iban, message

VISA = luhn_complete("4929", 16)
IBAN = make_iban("DE", "370400440532013000")


def _html(markup: str) -> bytes:
    return message("See the web version.", html=markup)


def test_html_alt_attribute_is_read():
    report = scan(_html(f'<p>Hello</p><img src="cid:x" alt="Card number {VISA} exp 09/28">'))
    assert "payment_card" in categories(report)


def test_html_title_attribute_is_read():
    report = scan(_html(f'<p><span title="IBAN: {IBAN}">hover here</span></p>'))
    assert "iban" in categories(report)


def test_html_title_element_is_read():
    report = scan(_html(f"<html><head><title>Card number {VISA}</title></head>"
                        "<body><p>Hello</p></body></html>"))
    assert "payment_card" in categories(report)


def test_attribute_text_does_not_glue_into_visible_numbers():
    # alt text stands on its own line: digits around the tag are not joined through it
    report = scan(_html(f'<p>Card number {VISA[:8]}<img alt="x">{VISA[8:]}</p>'))
    assert "payment_card" in categories(report)


def _with_display_name(field: str, name: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "alice@example.org"
    msg["To"] = "bob@example.net"
    msg["Subject"] = "hi"
    msg.replace_header(field, Address(name, "x", "example.com")) if field in msg else \
        msg.__setitem__(field, Address(name, "x", "example.com"))
    msg.set_content("Hello.")
    return msg.as_bytes()


def test_display_names_are_read():
    for field in ("From", "To", "Reply-To", "Cc"):
        report = scan(_with_display_name(field, f"IBAN {IBAN}"))
        assert "iban" in categories(report), field


def test_attached_message_display_names_are_read():
    inner = _with_display_name("From", f"IBAN {IBAN}")
    raw = message("Forwarding.", attachments=[(inner, "message", "rfc822", "fwd.eml")])
    assert "iban" in categories(scan(raw))


# --- office files: every part a reader can open ------------------------------------------

import io  # noqa: E402
import zipfile  # noqa: E402

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
S = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
SECRET = f"IBAN {IBAN}"


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data.encode())
    return buf.getvalue()


DOCX_BODY = f"<w:document {W}><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p></w:body></w:document>"
XLSX_SHEET = f'<worksheet {S}><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>Hi</t></is></c></row></sheetData></worksheet>'


def _office(extra: dict[str, str], kind: str) -> bytes:
    base = {"word/document.xml": DOCX_BODY} if kind == "docx" else \
        {"xl/worksheets/sheet1.xml": XLSX_SHEET} if kind == "xlsx" else \
        {"ppt/slides/slide1.xml": '<p:sld xmlns:p="p" xmlns:a="a"><a:t>Hi</a:t></p:sld>'}
    data = _zip({"[Content_Types].xml": "<Types/>", **base, **extra})
    return message("See attached.", attachments=[(data, "application", "octet-stream", f"f.{kind}")])


OFFICE_PLACES = {
    "docx comment": ({"word/comments.xml": f"<w:comments {W}><w:comment><w:p><w:r><w:t>{SECRET}"
                                           "</w:t></w:r></w:p></w:comment></w:comments>"}, "docx"),
    "docx core properties": ({"docProps/core.xml": f'<cp:coreProperties xmlns:cp="c" xmlns:dc="d">'
                                                   f"<dc:description>{SECRET}</dc:description>"
                                                   "</cp:coreProperties>"}, "docx"),
    "docx custom properties": ({"docProps/custom.xml": f'<Properties xmlns:vt="v"><property name="Bank">'
                                                       f"<vt:lpwstr>{SECRET}</vt:lpwstr></property>"
                                                       "</Properties>"}, "docx"),
    "pptx speaker notes": ({"ppt/notesSlides/notesSlide1.xml": f'<p:notes xmlns:p="p" xmlns:a="a">'
                                                               f"<a:t>{SECRET}</a:t></p:notes>"}, "pptx"),
    "xlsx comment": ({"xl/comments1.xml": f"<comments {S}><commentList><comment ref='A1'><text><t>"
                                          f"{SECRET}</t></text></comment></commentList></comments>"}, "xlsx"),
    "xlsx threaded comment": ({"xl/threadedComments/threadedComment1.xml":
                               f'<ThreadedComments xmlns="t"><threadedComment><text>{SECRET}</text>'
                               "</threadedComment></ThreadedComments>"}, "xlsx"),
    "xlsx defined name": ({"xl/workbook.xml": f'<workbook {S}><sheets><sheet name="Sheet1"/></sheets>'
                                              f'<definedNames><definedName name="bank">"{SECRET}"'
                                              "</definedName></definedNames></workbook>"}, "xlsx"),
    "xlsx sheet name": ({"xl/workbook.xml": f'<workbook {S}><sheets><sheet name="{SECRET}"/></sheets>'
                                            "</workbook>"}, "xlsx"),
    "xlsx formula literal": ({"xl/worksheets/sheet2.xml":
                              f'<worksheet {S}><sheetData><row r="1"><c r="A1" t="str"><f>CONCAT("{SECRET}","")'
                              "</f><v></v></c></row></sheetData></worksheet>"}, "xlsx"),
}


import pytest  # noqa: E402


@pytest.mark.parametrize("place", sorted(OFFICE_PLACES))
def test_office_place_is_read(place):
    extra, kind = OFFICE_PLACES[place]
    report = scan(_office(extra, kind))
    assert "iban" in categories(report), place


# --- PDF: document info, annotations, form fields ---------------------------------------

def _pdf(annotation: str | None = None, info: str | None = None) -> bytes:
    from pypdf import PdfWriter
    from pypdf.annotations import Text

    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    if annotation is not None:
        writer.add_annotation(0, Text(rect=(10, 10, 50, 50), text=annotation))
    if info is not None:
        writer.add_metadata({"/Subject": info})
    buf = io.BytesIO()
    writer.write(buf)
    return message("See attached.", attachments=[(buf.getvalue(), "application", "pdf", "f.pdf")])


def test_pdf_annotation_is_read():
    assert "iban" in categories(scan(_pdf(annotation=SECRET)))


def test_pdf_document_info_is_read():
    assert "iban" in categories(scan(_pdf(info=SECRET)))


# --- iCalendar and vCard: folded lines are one line ----------------------------------------

@pytest.mark.parametrize("name,subtype,head", [
    ("invite.ics", "calendar", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDESCRIPTION:"),
    ("contact.vcf", "vcard", "BEGIN:VCARD\r\nVERSION:4.0\r\nNOTE:"),
])
def test_directory_folding_is_undone(name, subtype, head):
    text = f"Card number {VISA}"
    folded = head + text[:18] + "\r\n " + text[18:] + "\\nexp 09/28\r\nEND:X\r\n"
    raw = message("See attached.", attachments=[(folded.encode(), "text", subtype, name)])
    assert "payment_card" in categories(scan(raw)), name


def test_headers_of_a_parsed_attached_message_are_read():
    """message/rfc822 sent as 7bit is parsed in place: its headers are read there too."""
    inner = EmailMessage()
    inner["From"] = "a@example.org"
    inner["Subject"] = "fwd"
    inner["X-Note"] = SECRET
    inner.set_content("Hello.")
    outer = EmailMessage()
    outer["Subject"] = "forwarding"
    outer.set_content("See below.")
    outer.add_attachment(inner)
    assert "iban" in categories(scan(outer.as_bytes()))
    inner.replace_header("From", Address(SECRET, "a", "example.org"))
    del inner["X-Note"]
    assert "iban" in categories(scan(outer.as_bytes()))


# --- rendered vs hidden: CSS-hidden text is not spliced into visible numbers --------------

@pytest.mark.parametrize("style", ["display:none", "display: none", "font-size:0", "font-size: 0px"])
def test_css_hidden_text_does_not_break_a_visible_number(style):
    markup = (f"<p>Card number: {VISA[:7]}<span style=\"{style}\">9</span>{VISA[7:]} exp 09/28</p>")
    assert "payment_card" in categories(scan(_html(markup))), style


def test_css_hidden_text_is_still_read_on_its_own():
    markup = f'<p>Hello</p><div style="display:none">IBAN {IBAN}</div>'
    assert "iban" in categories(scan(_html(markup)))
