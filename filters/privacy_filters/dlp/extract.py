"""Text from attachments: plain text, HTML, office documents, PDF, zip archives, messages.

Each format is recognised by its magic bytes first and its declared type or file name
second, because senders mislabel attachments. What cannot be opened (encrypted archives,
encrypted PDFs and Office files, corrupt data, anything over a limit) is counted as
unscannable, with a reason, rather than silently passed: policy.toml gives each reason
an action. Every parser here checks the scan's deadline (Budget.check) as it goes; PDFs,
whose library cannot be interrupted, are read in a child process (pdftext.py).
"""

from __future__ import annotations

import io
import logging
import re
import zipfile
from xml.etree import ElementTree

from . import archives
from .htmltext import html_to_text
from .mime import Budget, ScanStopped, Sink, decode_bytes, utf16_without_bom, walk_message
from .pdftext import pdf_text
from .rtftext import rtf_to_text

log = logging.getLogger(__name__)

_TEXT_EXT = (".txt", ".csv", ".tsv", ".text", ".log", ".md", ".json", ".xml", ".ini", ".cfg",
             ".conf", ".env", ".yaml", ".yml", ".pem", ".key", ".rtf", ".vcf", ".ics")
_HTML_EXT = (".html", ".htm", ".xhtml")
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# Markup that separates text in office XML: paragraphs and rows become lines, cells tabs.
_XML_LINE = frozenset(("p", "br", "tr", "row", "h", "si", "cr", "line-break", "list-item"))
_XML_CELL = frozenset(("tab", "tc", "c", "table-cell", "s"))
_XML_FEED = 64 * 1024   # bytes of XML parsed between two looks at the clock
# "EncryptionInfo" as an OLE directory entry name (UTF-16-LE): a password-protected OOXML file.
_OLE_ENCRYPTED = "EncryptionInfo".encode("utf-16-le")


def extract_attachment(data: bytes, ctype: str, filename: str, charset: str | None,
                       sink: Sink, budget: Budget, depth: int) -> None:
    """Feed the text of one attachment to sink; never raises."""
    try:
        _dispatch(data, ctype, filename.lower(), charset, sink, budget, depth)
    except ScanStopped:
        raise
    except RecursionError:
        budget.fail("too_deep")
    except MemoryError:
        budget.fail("too_large")
    except Exception as exc:  # noqa: BLE001 - any parser failure means "could not read"
        # Only the exception type is logged: messages from parsers may quote content.
        log.debug("attachment unreadable: %s", type(exc).__name__)
        budget.fail("malformed")


def _dispatch(data: bytes, ctype: str, name: str, charset: str | None, sink: Sink,
              budget: Budget, depth: int) -> None:
    if not data:
        return
    if ctype == "message/rfc822" or name.endswith(".eml"):
        if depth >= budget.limits.max_depth:
            budget.fail("too_deep")
            return
        walk_message(data, sink, budget, depth + 1, where="attachment")
        return
    if data.startswith(b"%PDF") or ctype == "application/pdf" or name.endswith(".pdf"):
        pdf_text(data, sink, budget)
    elif data.startswith(_OLE_MAGIC):
        # Legacy .doc/.xls, or an encrypted OOXML file (still named .docx): opaque to us.
        budget.fail("encrypted" if _OLE_ENCRYPTED in data else "unsupported")
    elif kind := archives.compression(data, name):
        archives.read_compressed(data, kind, name, sink, budget, depth, extract_attachment)
    elif archives.is_tar(data, name):
        archives.read_tar(data, sink, budget, depth, extract_attachment)
    elif archives.unsupported_archive(data):
        budget.fail("unsupported")  # RAR, 7-Zip, CAB: archives the stdlib cannot open
    elif data.startswith(b"PK\x03\x04") or name.endswith((".zip", ".docx", ".xlsx", ".odt")):
        _zip(data, name, sink, budget, depth)
    elif data.startswith(b"{\\rtf") or ctype in ("application/rtf", "text/rtf") or \
            name.endswith(".rtf"):
        # Control words (\\par, \\'e9, \\b) would otherwise break numbers and words apart.
        sink(budget.take_text(rtf_to_text(decode_bytes(data, charset, budget),
                                          budget.limits.max_part_chars, budget.check)),
             "attachment")
    elif ctype in ("text/html", "application/xhtml+xml") or name.endswith(_HTML_EXT):
        text = html_to_text(decode_bytes(data, charset, budget), budget.limits.max_part_chars,
                            budget.check)
        sink(budget.take_text(text), "attachment")
    elif ctype in _DIRECTORY_TYPES or name.endswith(_DIRECTORY_EXT) or \
            data.lstrip()[:15].upper().startswith((b"BEGIN:VCALENDAR", b"BEGIN:VCARD")):
        sink(budget.take_text(unfold_directory(decode_bytes(data, charset, budget))), "attachment")
    elif ctype.startswith("text/") or name.endswith(_TEXT_EXT) or _looks_textual(data):
        sink(budget.take_text(decode_bytes(data, charset, budget)), "attachment")
    # Images, audio and other binary media carry no text we can read: neither text nor unscannable.


_DIRECTORY_TYPES = frozenset(("text/calendar", "text/vcard", "text/x-vcard", "text/directory"))
_DIRECTORY_EXT = (".ics", ".vcf", ".vcs", ".ical")
# RFC 5545 3.1 / RFC 6350 3.2: a line break followed by one space or tab continues the line.
_FOLD = re.compile(r"\r?\n[ \t]")
_ESCAPE = re.compile(r"\\([nN,;\\])")


def unfold_directory(text: str) -> str:
    """iCalendar and vCard as a reader's calendar shows them: folded lines joined, and the
    escapes \\n, \\, and \\; written out (a card number folded mid-way is one number)."""
    text = _FOLD.sub("", text)
    return _ESCAPE.sub(lambda m: "\n" if m[1] in "nN" else m[1], text)


def _looks_textual(data: bytes) -> bool:
    """Unlabelled bytes that are mostly printable are worth scanning as text."""
    sample = data[:4096]
    if utf16_without_bom(sample) is not None or sample.startswith((b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")):
        return True  # UTF-16 or UTF-32 text: half or three quarters of its bytes are NUL
    if b"\x00" in sample:
        return False
    printable = sum(1 for b in sample if b >= 0x20 or b in (9, 10, 13))
    return printable >= 0.95 * len(sample)


def _zip(data: bytes, name: str, sink: Sink, budget: Budget, depth: int) -> None:
    limits = budget.limits
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        names = {m.filename for m in members}
        if "word/document.xml" in names or "content.xml" in names or any(
                n.startswith(("xl/", "ppt/slides/")) for n in names):
            _office(zf, names, sink, budget)
            return
        if depth >= limits.max_depth:
            budget.fail("too_deep")
            return
        if len(members) > limits.max_zip_members:
            budget.fail("too_large")
            members = members[:limits.max_zip_members]
        if members:  # member names are text someone typed, too
            sink(budget.take_text("\n".join(m.filename for m in members)), "attachment")
        for member in members:
            budget.check()
            body = _read_member(zf, member, budget)
            if body is not None:
                extract_attachment(body, "", member.filename, None, sink, budget, depth + 1)


def _read_member(zf: zipfile.ZipFile, member: zipfile.ZipInfo, budget: Budget) -> bytes | None:
    """One archive member, or None (counted unscannable) when encrypted or bomb-shaped."""
    limits = budget.limits
    if member.flag_bits & 0x1:
        budget.fail("encrypted")
        return None
    ratio = member.file_size / max(member.compress_size, 1)
    if member.file_size > limits.max_part_bytes or ratio > limits.max_zip_ratio:
        budget.fail("too_large")
        return None
    # The declared size can lie: read one byte past the caps to notice.
    cap = min(limits.max_part_bytes, limits.max_zip_ratio * max(member.compress_size, 1))
    with zf.open(member) as fh:
        return archives.bounded_read(fh, cap, budget)


def _office(zf: zipfile.ZipFile, names: set[str], sink: Sink, budget: Budget) -> None:
    shared: list[str] = []
    if "xl/sharedStrings.xml" in names:
        body = _read_member(zf, zf.getinfo("xl/sharedStrings.xml"), budget)
        if body is not None:
            shared = _xml_text(body, budget).split("\n")
    parts = sorted(n for n in names if n.endswith(".xml") and (
        n in _OFFICE_PARTS or n.startswith(_OFFICE_PREFIXES)))
    for part in parts:
        body = _read_member(zf, zf.getinfo(part), budget)
        if body is None:
            continue
        if part.startswith("xl/worksheets/"):
            text = _sheet_text(body, shared, budget)
        elif part in _LINE_PER_ELEMENT:
            # properties, sheet and defined names: one value per element (and the name
            # attributes), so two neighbouring values are never read as one
            text = _xml_text(body, budget, every_element=True)
        else:
            text = _xml_text(body, budget)
        sink(budget.take_text(text), "attachment")


# Every part of an office file a reader can open: the body, headers and footers, notes,
# comments (also threaded), document properties, slides and speaker notes, sheets (cells,
# formulas), the workbook's sheet names and defined names; ODF's content and metadata.
_OFFICE_PARTS = frozenset(("word/document.xml", "content.xml", "meta.xml", "xl/workbook.xml",
                           "docProps/core.xml", "docProps/app.xml", "docProps/custom.xml"))
_OFFICE_PREFIXES = ("word/header", "word/footer", "word/footnotes", "word/endnotes", "word/comments",
                    "xl/worksheets/", "xl/comments", "xl/threadedComments/", "ppt/slides/slide",
                    "ppt/notesSlides/", "ppt/comments/")
_LINE_PER_ELEMENT = frozenset(("xl/workbook.xml", "docProps/core.xml", "docProps/app.xml",
                               "docProps/custom.xml", "meta.xml"))


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _TooDeep(Exception):
    pass


class _TextTarget:
    """Parser target collecting the text of an office XML part in document order, with
    paragraph and cell breaks. No tree is built and nothing recurses, so nesting costs
    nothing but a counter; past limits.max_xml_depth the part counts as "too_deep"."""

    def __init__(self, max_depth: int, every_element: bool = False) -> None:
        self.out: list[str] = []
        self._stack: list[str] = []
        self._max = max_depth
        self._every = every_element

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        name = _local(tag)
        if len(self._stack) >= self._max:
            raise _TooDeep
        self._stack.append(name)
        if name in _XML_CELL:
            self.out.append("\t")
        if self._every and "name" in attrib:  # <sheet name=...>, <definedName name=...>
            self.out.append(attrib["name"] + "\n")

    def end(self, tag: str) -> None:
        name = self._stack.pop() if self._stack else _local(tag)
        if self._every or name in _XML_LINE:
            self.out.append("\n")

    def data(self, text: str) -> None:
        if not self._stack or self._stack[-1] != "instrText":  # field codes are not shown
            self.out.append(text)

    def close(self) -> None:
        return None


def _xml_text(body: bytes, budget: Budget, every_element: bool = False) -> str:
    """All text of an office XML part in document order, with paragraph and cell breaks."""
    target = _TextTarget(budget.limits.max_xml_depth, every_element)
    parser = ElementTree.XMLParser(target=target)
    try:
        for start in range(0, len(body), _XML_FEED):
            budget.check()
            parser.feed(body[start:start + _XML_FEED])
        parser.close()
    except _TooDeep:
        budget.fail("too_deep")  # the text before the nesting got too deep is still scanned
    return "".join(target.out)


def _sheet_text(body: bytes, shared: list[str], budget: Budget) -> str:
    out: list[str] = []
    for n, (_, elem) in enumerate(ElementTree.iterparse(io.BytesIO(body), events=("end",))):
        if n % 1024 == 0:
            budget.check()
        name = _local(elem.tag)
        if name == "c":
            value = next((child.text or "" for child in elem if _local(child.tag) == "v"), "")
            inline = "".join(t.text or "" for t in elem.iter() if _local(t.tag) == "t")
            if elem.get("t") == "s" and value.isdigit() and int(value) < len(shared):
                value = shared[int(value)]
            elif elem.get("t") in (None, "n") and ("E" in value or "e" in value):
                value = _plain_number(value)
            formula = next((child.text or "" for child in elem if _local(child.tag) == "f"), "")
            out.append((inline or value) + "\t" + (formula + "\t" if formula else ""))
            elem.clear()
        elif name == "row":
            out.append("\n")
            elem.clear()
    return "".join(out)


def _plain_number(value: str) -> str:
    """A numeric cell stored as "1.2345678E+7" written out as Excel displays it.

    Excel keeps 15 significant digits, so a 16-digit card typed as a number has already
    lost its last digit in the file: nothing can restore it. Shorter integers (account
    numbers, sort codes) come back exactly.
    """
    try:
        number = float(value)
    except ValueError:
        return value
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return value
