"""Attachments built byte for byte for the probe suite: OOXML (docx, xlsx, pptx) with
zipfile, a minimal hand-written PDF, gzip and tar. Fixed timestamps and member order, so
the same input gives the same bytes (the suite's MANIFEST freezes them). No dependency.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from html import escape

_WHEN = (2025, 9, 1, 9, 0, 0)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _zip(members: list[tuple[str, str]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=_WHEN)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, text.encode("utf-8"))
    return buf.getvalue()


def _types(overrides: dict[str, str]) -> str:
    parts = "".join(f'<Override PartName="/{k}" ContentType="{v}"/>' for k, v in overrides.items())
    return (f'{_XML}<Types xmlns="{_CT}"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            f'<Default Extension="xml" ContentType="application/xml"/>{parts}</Types>')


def _rels(rels: list[tuple[str, str, str]]) -> str:
    body = "".join(f'<Relationship Id="{i}" Type="{t}" Target="{target}"/>' for i, t, target in rels)
    return f'{_XML}<Relationships xmlns="{_PKG}">{body}</Relationships>'


def _core(title: str = "Notes", subject: str = "", keywords: str = "", description: str = "") -> str:
    return (f'{_XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            f"<dc:title>{escape(title)}</dc:title><dc:subject>{escape(subject)}</dc:subject>"
            f"<cp:keywords>{escape(keywords)}</cp:keywords>"
            f"<dc:description>{escape(description)}</dc:description>"
            "<dc:creator>Office</dc:creator></cp:coreProperties>")


def _custom(name: str, value: str) -> str:
    return (f'{_XML}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'custom-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/'
            'docPropsVTypes"><property fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2" '
            f'name="{escape(name)}"><vt:lpwstr>{escape(value)}</vt:lpwstr></property></Properties>')


_OFFICE_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CORE_REL = "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties"
_CUSTOM_REL = f"{_OFFICE_REL}/custom-properties"


def docx(body: str, comment: str = "", core: dict[str, str] | None = None,
         custom: tuple[str, str] | None = None) -> bytes:
    """A Word document: body text, optionally a comment, core and custom properties."""
    anchor = ('<w:commentRangeStart w:id="0"/>' if comment else "")
    ref = ('<w:commentRangeEnd w:id="0"/><w:r><w:commentReference w:id="0"/></w:r>'
           if comment else "")
    doc = (f'{_XML}<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body><w:p>{anchor}<w:r><w:t>'
           f"{escape(body)}</w:t></w:r>{ref}</w:p></w:body></w:document>")
    overrides = {"word/document.xml": "application/vnd.openxmlformats-officedocument."
                 "wordprocessingml.document.main+xml",
                 "docProps/core.xml": "application/vnd.openxmlformats-package.core-properties+xml"}
    members = [("word/document.xml", doc), ("docProps/core.xml", _core(**(core or {})))]
    doc_rels: list[tuple[str, str, str]] = []
    if comment:
        overrides["word/comments.xml"] = ("application/vnd.openxmlformats-officedocument."
                                          "wordprocessingml.comments+xml")
        members.append(("word/comments.xml",
                        f'{_XML}<w:comments xmlns:w="{_W}"><w:comment w:id="0" w:author="Sam" '
                        f'w:initials="S"><w:p><w:r><w:t>{escape(comment)}</w:t></w:r></w:p>'
                        "</w:comment></w:comments>"))
        doc_rels.append(("rId1", f"{_OFFICE_REL}/comments", "comments.xml"))
    pkg_rels = [("rId1", f"{_OFFICE_REL}/officeDocument", "word/document.xml"),
                ("rId2", _CORE_REL, "docProps/core.xml")]
    if custom:
        overrides["docProps/custom.xml"] = ("application/vnd.openxmlformats-officedocument."
                                            "custom-properties+xml")
        members.append(("docProps/custom.xml", _custom(*custom)))
        pkg_rels.append(("rId3", _CUSTOM_REL, "docProps/custom.xml"))
    head = [("[Content_Types].xml", _types(overrides)), ("_rels/.rels", _rels(pkg_rels))]
    if doc_rels:
        head.append(("word/_rels/document.xml.rels", _rels(doc_rels)))
    return _zip(head + members)


_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def xlsx(cell: str, comment: str = "", threaded: str = "", defined: tuple[str, str] | None = None,
         sheet_name: str = "Sheet1", formula: str = "") -> bytes:
    """A workbook of one sheet: cell A1 (inline string), optionally a comment on A1, a
    threaded comment, a defined name with a literal, the sheet's name, a formula in A2
    with no cached value."""
    f_cell = f'<c r="A2" t="str"><f>{escape(formula)}</f></c>' if formula else ""
    sheet = (f'{_XML}<worksheet xmlns="{_S}" xmlns:r="{_R}"><sheetData><row r="1">'
             f'<c r="A1" t="inlineStr"><is><t>{escape(cell)}</t></is></c></row>'
             + (f'<row r="2">{f_cell}</row>' if f_cell else "") + "</sheetData></worksheet>")
    names = (f'<definedNames><definedName name="{escape(defined[0])}">{escape(defined[1])}'
             "</definedName></definedNames>" if defined else "")
    book = (f'{_XML}<workbook xmlns="{_S}" xmlns:r="{_R}"><sheets><sheet name="{escape(sheet_name)}" '
            f'sheetId="1" r:id="rId1"/></sheets>{names}</workbook>')
    overrides = {"xl/workbook.xml": "application/vnd.openxmlformats-officedocument."
                 "spreadsheetml.sheet.main+xml",
                 "xl/worksheets/sheet1.xml": "application/vnd.openxmlformats-officedocument."
                 "spreadsheetml.worksheet+xml"}
    members = [("xl/workbook.xml", book), ("xl/_rels/workbook.xml.rels",
                _rels([("rId1", f"{_OFFICE_REL}/worksheet", "worksheets/sheet1.xml")])),
               ("xl/worksheets/sheet1.xml", sheet)]
    sheet_rels: list[tuple[str, str, str]] = []
    if comment:
        overrides["xl/comments1.xml"] = ("application/vnd.openxmlformats-officedocument."
                                         "spreadsheetml.comments+xml")
        members.append(("xl/comments1.xml",
                        f'{_XML}<comments xmlns="{_S}"><authors><author>Sam</author></authors>'
                        f'<commentList><comment ref="A1" authorId="0"><text><r><t>{escape(comment)}'
                        "</t></r></text></comment></commentList></comments>"))
        sheet_rels.append(("rId1", f"{_OFFICE_REL}/comments", "../comments1.xml"))
    if threaded:
        tc = "http://schemas.microsoft.com/office/spreadsheetml/2018/threadedcomments"
        overrides["xl/threadedComments/threadedComment1.xml"] = (
            "application/vnd.ms-excel.threadedcomments+xml")
        members.append(("xl/threadedComments/threadedComment1.xml",
                        f'{_XML}<ThreadedComments xmlns="{tc}"><threadedComment ref="A1" '
                        'dT="2025-09-01T09:00:00.00" personId="{00000000-0000-0000-0000-000000000001}" '
                        'id="{00000000-0000-0000-0000-000000000002}">'
                        f"<text>{escape(threaded)}</text></threadedComment></ThreadedComments>"))
        sheet_rels.append(("rId2", "http://schemas.microsoft.com/office/2017/10/relationships/"
                           "threadedComment", "../threadedComments/threadedComment1.xml"))
    if sheet_rels:
        members.append(("xl/worksheets/_rels/sheet1.xml.rels", _rels(sheet_rels)))
    head = [("[Content_Types].xml", _types(overrides)),
            ("_rels/.rels", _rels([("rId1", f"{_OFFICE_REL}/officeDocument", "xl/workbook.xml")]))]
    return _zip(head + members)


_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"


def _sp(text: str) -> str:
    return (f'<p:sp><p:txBody><a:bodyPr/><a:p><a:r><a:t>{escape(text)}</a:t></a:r></a:p>'
            "</p:txBody></p:sp>")


def pptx(slide_text: str, notes: str) -> bytes:
    """One slide with a title and speaker notes."""
    ns = f'xmlns:p="{_P}" xmlns:a="{_A}" xmlns:r="{_R}"'
    slide = f"{_XML}<p:sld {ns}><p:cSld><p:spTree>{_sp(slide_text)}</p:spTree></p:cSld></p:sld>"
    note = (f"{_XML}<p:notes {ns}><p:cSld><p:spTree>{_sp(notes)}</p:spTree></p:cSld></p:notes>")
    pres = (f'{_XML}<p:presentation {ns}><p:sldIdLst><p:sldId id="256" r:id="rId1"/>'
            "</p:sldIdLst></p:presentation>")
    ml = "application/vnd.openxmlformats-officedocument.presentationml."
    overrides = {"ppt/presentation.xml": ml + "presentation.main+xml",
                 "ppt/slides/slide1.xml": ml + "slide+xml",
                 "ppt/notesSlides/notesSlide1.xml": ml + "notesSlide+xml"}
    return _zip([
        ("[Content_Types].xml", _types(overrides)),
        ("_rels/.rels", _rels([("rId1", f"{_OFFICE_REL}/officeDocument", "ppt/presentation.xml")])),
        ("ppt/presentation.xml", pres),
        ("ppt/_rels/presentation.xml.rels", _rels([("rId1", f"{_OFFICE_REL}/slide", "slides/slide1.xml")])),
        ("ppt/slides/slide1.xml", slide),
        ("ppt/slides/_rels/slide1.xml.rels",
         _rels([("rId1", f"{_OFFICE_REL}/notesSlide", "../notesSlides/notesSlide1.xml")])),
        ("ppt/notesSlides/notesSlide1.xml", note),
    ])


def _pdf_str(text: str) -> str:
    return "(" + text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def pdf(page_text: str, annot: str = "", field: tuple[str, str] | None = None,
        info: dict[str, str] | None = None) -> bytes:
    """A one-page PDF (Helvetica text), optionally a text annotation (a sticky note), an
    AcroForm text field with a value, and a document information dictionary."""
    content = f"BT /F1 12 Tf 72 720 Td {_pdf_str(page_text)} Tj ET".encode("latin-1")
    objs: list[str] = []
    annots = []
    if annot:
        annots.append(5)
    if field:
        annots.append(6)
    kids = f" /Annots [{' '.join(f'{n} 0 R' for n in annots)}]" if annots else ""
    acro = " /AcroForm << /Fields [6 0 R] >>" if field else ""
    objs.append(f"<< /Type /Catalog /Pages 2 0 R{acro} >>")
    objs.append("<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
                f"/Resources << /Font << /F1 7 0 R >> >>{kids} >>")
    objs.append(f"<< /Length {len(content)} >>\nstream\n{content.decode('latin-1')}\nendstream")
    objs.append(f"<< /Type /Annot /Subtype /Text /Rect [72 600 92 620] /Contents {_pdf_str(annot)} "
                "/T (Sam) >>" if annot else "<< >>")
    objs.append(f"<< /Type /Annot /Subtype /Widget /FT /Tx /Rect [72 500 300 520] /T "
                f"{_pdf_str(field[0])} /V {_pdf_str(field[1])} /P 3 0 R >>" if field else "<< >>")
    objs.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    if info:
        objs.append("<< " + " ".join(f"/{k} {_pdf_str(v)}" for k, v in info.items()) + " >>")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objs) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    info_ref = f" /Info {len(objs)} 0 R" if info else ""
    out += f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R{info_ref} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def gz(data: bytes, name: str) -> bytes:
    """gzip with a fixed mtime and the original name in the header (as gzip(1) writes)."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename=name, mode="wb", fileobj=buf, mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def tar(members: list[tuple[str, bytes]], compress: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1756717200, 0o644
            info.uname = info.gname = "office"
            tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gz(raw, "") if compress else raw
