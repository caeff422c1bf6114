"""Bounded decompression: gzip and zip never expand past `limit` bytes, whatever their
headers claim (a gzip bomb of 10 MB inflating to 10 GB is stopped at the limit, having
produced at most limit + one chunk)."""

from __future__ import annotations

import io
import zipfile
import zlib

from . import ReportRefused

CHUNK = 64 * 1024
MAX_ZIP_MEMBERS = 16


def gunzip(data: bytes, limit: int) -> bytes:
    """One gzip member's content; ReportRefused when it is larger than `limit` or broken."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    out = bytearray()
    pending = data
    try:
        while True:
            piece = inflater.decompress(pending, CHUNK)
            out += piece
            if len(out) > limit:
                raise ReportRefused("too_large", f"gzip expands past the limit of {limit} bytes")
            pending = inflater.unconsumed_tail
            if inflater.eof or (not pending and not piece):
                break
    except zlib.error as exc:
        raise ReportRefused("malformed", f"not valid gzip ({exc})") from None
    if not inflater.eof:
        raise ReportRefused("malformed", "gzip data is truncated")
    return bytes(out)


def unzip_one(data: bytes, limit: int, suffixes: tuple[str, ...] = (".xml",)) -> bytes:
    """The one member of a zip archive whose name ends with one of `suffixes` (DMARC
    reporters send a single .xml), read with at most `limit` bytes produced."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ReportRefused("malformed", f"not a valid zip archive ({type(exc).__name__})") from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise ReportRefused("too_many", f"zip with {len(members)} members (at most {MAX_ZIP_MEMBERS})")
        wanted = [m for m in members if not m.is_dir() and m.filename.lower().endswith(suffixes)]
        if len(wanted) != 1:
            raise ReportRefused("not_a_report", f"zip holds {len(wanted)} {'/'.join(suffixes)} files, not one")
        member = wanted[0]
        if member.flag_bits & 0x1:
            raise ReportRefused("malformed", "zip member is encrypted")
        if member.file_size > limit:
            raise ReportRefused("too_large", f"zip member declares {member.file_size} bytes, over {limit}")
        try:
            with archive.open(member) as f:
                content = f.read(limit + 1)  # the declared size may lie: read no more than this
        except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError, zlib.error) as exc:
            raise ReportRefused("malformed", f"zip member unreadable ({type(exc).__name__})") from None
    if len(content) > limit:
        raise ReportRefused("too_large", f"zip member expands past the limit of {limit} bytes")
    return content


def sniff(data: bytes) -> str:
    """"gzip", "zip" or "plain" from the first bytes (content types lie; magic numbers do not)."""
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    return "plain"


def expand(data: bytes, limit: int) -> bytes:
    """Whatever the attachment is, its content, bounded by `limit`."""
    kind = sniff(data)
    if kind == "gzip":
        return gunzip(data, limit)
    if kind == "zip":
        return unzip_one(data, limit)
    if len(data) > limit:
        raise ReportRefused("too_large", f"report of {len(data)} bytes, over the limit of {limit}")
    return data
