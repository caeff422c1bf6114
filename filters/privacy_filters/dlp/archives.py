"""Compressed single files (gzip, bzip2, xz) and tar archives, read under the zip budgets.

The stdlib readers (gzip, bz2, lzma, tarfile) are made for exactly this and stream, so the
output is read a megabyte at a time up to the same caps as a zip member: `max_part_bytes`
and `max_zip_ratio` times the compressed size (a bomb stops there as "too_large"), one
level of `max_depth` per layer, `max_zip_members` per tar. Archive formats the stdlib
cannot open (RAR, 7-Zip) are counted "unsupported" rather than passed as clean.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import re
import tarfile
from collections.abc import Callable
from typing import IO, BinaryIO, Final

from .mime import Budget, Sink

# extract_attachment(data, ctype, filename, charset, sink, budget, depth)
Extract = Callable[[bytes, str, str, "str | None", Sink, Budget, int], None]

_READ: Final = 1024 * 1024  # bytes inflated between two looks at the clock
_GZIP: Final = b"\x1f\x8b"
_XZ: Final = b"\xfd7zXZ\x00"
_BZIP2: Final = re.compile(rb"BZh[1-9]1AY&SY")
_UNSUPPORTED: Final = (b"Rar!\x1a\x07", b"7z\xbc\xaf\x27\x1c", b"MSCF\x00\x00\x00\x00")
# A shortened name for what is inside: "x.txt.gz" holds "x.txt", "x.tgz" a tar.
_INNER_NAME: Final = ((".tgz", ".tar"), (".tbz2", ".tar"), (".txz", ".tar"), (".gz", ""),
                      (".bz2", ""), (".xz", ""))


def compression(data: bytes, name: str) -> str | None:
    """"gzip", "bzip2" or "xz" by magic bytes (a name alone is not enough: it may lie)."""
    if data.startswith(_GZIP):
        return "gzip"
    if data.startswith(_XZ):
        return "xz"
    if _BZIP2.match(data):
        return "bzip2"
    return None


def is_tar(data: bytes, name: str) -> bool:
    return data[257:262] == b"ustar" or (name.endswith(".tar") and len(data) >= 512)


def unsupported_archive(data: bytes) -> bool:
    return data.startswith(_UNSUPPORTED)


def read_compressed(data: bytes, kind: str, name: str, sink: Sink, budget: Budget, depth: int,
                    extract: Extract) -> None:
    """Inflate one compressed file within the caps and read what it holds."""
    if depth >= budget.limits.max_depth:
        budget.fail("too_deep")
        return
    opener: dict[str, Callable[[BinaryIO], BinaryIO]] = {
        "gzip": lambda f: gzip.GzipFile(fileobj=f),  # type: ignore[dict-item,return-value]
        "bzip2": lambda f: bz2.BZ2File(f),  # type: ignore[dict-item,return-value]
        "xz": lambda f: lzma.LZMAFile(f)}  # type: ignore[dict-item,return-value]  # noqa: SIM115 (opened in the with below)
    cap = min(budget.limits.max_part_bytes, budget.limits.max_zip_ratio * max(len(data), 1))
    with opener[kind](io.BytesIO(data)) as fh:
        body = bounded_read(fh, cap, budget)
    if body is None:
        return
    inner = _inner_name(name)
    extract(body, "", inner, None, sink, budget, depth + 1)


def read_tar(data: bytes, sink: Sink, budget: Budget, depth: int, extract: Extract) -> None:
    """Every regular file of a tar archive (names too: they are typed text), within the caps."""
    limits = budget.limits
    if depth >= limits.max_depth:
        budget.fail("too_deep")
        return
    names: list[str] = []
    bodies: list[tuple[str, bytes]] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tf:
        while (member := tf.next()) is not None:
            budget.check()
            if not member.isfile():
                continue
            if len(names) >= limits.max_zip_members:
                budget.fail("too_large")
                break
            names.append(member.name)
            if member.size > limits.max_part_bytes:
                budget.fail("too_large")
                continue
            fh = tf.extractfile(member)
            if fh is not None:
                bodies.append((member.name, fh.read()))
    if names:
        sink(budget.take_text("\n".join(names)), "attachment")
    for member_name, body in bodies:
        budget.check()
        extract(body, "", member_name.lower(), None, sink, budget, depth + 1)


def bounded_read(fh: IO[bytes], cap: int, budget: Budget) -> bytes | None:
    """At most cap bytes of fh; None (counted "too_large") when there is more."""
    pieces: list[bytes] = []
    size = 0
    while size <= cap:
        budget.check()
        piece = fh.read(min(_READ, cap + 1 - size))
        if not piece:
            break
        pieces.append(piece)
        size += len(piece)
    if size > cap:
        budget.fail("too_large")
        return None
    return b"".join(pieces)


def _inner_name(name: str) -> str:
    for suffix, replacement in _INNER_NAME:
        if name.endswith(suffix):
            return name[:-len(suffix)] + replacement
    return ""
