"""A lazy MIME pass for the common shapes of mail, building the same compat32 Message tree
as the stdlib feed parser, or None so the caller falls back to that parser.

The stdlib parser splits the whole message into lines, runs several regular expressions per
line and compiles one new expression per boundary (every multipart message has its own):
about a third of a scan of small mail, most of a scan of a large base64 attachment. Here
part boundaries are found with str.find, only the header blocks are cut into lines, and a
part's body is one slice. The rules are the feed parser's own (Python 3.11
email/feedparser.py): lines end at CRLF, CR or LF; a header block ends at an empty line;
a boundary line is "--" boundary ["--"] [ \\t]* EOL at the start of a line; the line break
before a boundary line belongs to the boundary. Whatever that parser would treat as a defect
or a special case (a missing or unclosed boundary, an unlabelled body line among the
headers, a leading "From " line, multipart/digest, message/* other than a plain
message/rfc822, deep nesting) is not handled here: None, and the stdlib parser reads it.
The walk that follows (mime._walk) reads the tree exactly as it reads the stdlib's.
"""

from __future__ import annotations

import re
from email.message import Message
from email.policy import compat32
from typing import TYPE_CHECKING

from . import mimeparams

if TYPE_CHECKING:
    from .mime import Budget

MAX_NESTING = 16        # multipart/message levels handled here; deeper goes to the stdlib
HEADERS_PER_CHECK = 256  # headers read between two looks at the clock

# One header: a name of printable characters but the colon, blanks after the colon, the
# value with its continuation lines (a line break then a blank), then one line break (CRLF,
# CR or LF) unless the text ends. Everything after the colon may match nothing, so once the
# colon is found the first try succeeds: linear in the header's length.
_HEADER = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\r\n]*(?:(?:\r\n|\r|\n)[ \t][^\r\n]*)*)"
                     r"(?:\r\n|\r|\n)?")


class _Unusual(Exception):
    """A shape this pass leaves to the stdlib parser."""


def fast_parse(raw: bytes, budget: Budget) -> Message | None:
    """The message tree of raw, or None when the stdlib parser must read it."""
    text = raw.decode("ascii", "surrogateescape")  # what BytesFeedParser.feed does
    try:
        msg = _node(text, 0, len(text), budget, 0)
    except (_Unusual, RecursionError):
        return None
    return msg


def _node(text: str, start: int, end: int, budget: Budget, level: int, strip: bool = False
          ) -> Message:
    """The message in text[start:end]. strip: it ends at a boundary line, whose line break
    is taken off the payload of the last message parsed (the feed parser's `_last`: this
    one, or for message/rfc822 the message inside) without copying the payload twice."""
    if level > MAX_NESTING:
        raise _Unusual
    budget.check()
    msg = Message(policy=compat32)
    body = _headers(text, start, end, msg, budget)
    ctype = mimeparams.content_type(msg)
    maintype = ctype.partition("/")[0]
    if maintype == "multipart":
        boundary = mimeparams.boundary(msg)
        if not boundary or ctype == "multipart/digest":
            raise _Unusual
        msg._payload = _parts(text, body, end, "--" + boundary, budget, level)  # type: ignore[attr-defined]
        return msg
    if maintype == "message":
        cte = str(msg.get("content-transfer-encoding", "")).strip().lower()
        if ctype != "message/rfc822" or cte in ("base64", "quoted-printable"):
            raise _Unusual
        inner = _node(text, body, end, budget, level + 1, strip)
        if inner.get_content_maintype() == "message":
            raise _Unusual
        msg._payload = [inner]  # type: ignore[attr-defined]
        return msg
    if strip:  # the line break before a boundary belongs to the boundary
        if end - body >= 2 and text.startswith("\r\n", end - 2):
            end -= 2
        elif end > body and text[end - 1] in "\r\n":
            end -= 1
    msg._payload = text[body:end]  # type: ignore[attr-defined]
    return msg


def _headers(text: str, pos: int, end: int, msg: Message, budget: Budget) -> int:
    """Store the header block at pos in msg; return where the body starts. A header is
    stored as compat32's header_source_parse + set_raw store it (name before the first
    colon; value after it, leading blanks off, continuation lines joined as they are, the
    last line break off): one match of _HEADER per header, its two groups."""
    headers = msg._headers  # type: ignore[attr-defined]  # what Message.set_raw appends to
    header_match = _HEADER.match
    count = 0
    while pos < end:
        m = header_match(text, pos, end)
        if m is None:
            first = text[pos]
            if first == "\n":
                return pos + 1  # the empty line between headers and body
            if first == "\r":
                return pos + 2 if text.startswith("\n", pos + 1, end) else pos + 1
            # A continuation line first (a defect the stdlib notes), body text without the
            # empty line, or an envelope "From " line (a space before any colon).
            raise _Unusual
        headers.append(m.groups())
        pos = m.end()
        count += 1
        if count % HEADERS_PER_CHECK == 0:
            budget.check()
    return pos


def _boundary_end(text: str, at: int, end: int, sep: str) -> tuple[int, bool] | None:
    """(end of the line, is the close delimiter) when a boundary line starts at `at`."""
    j = at + len(sep)
    close = text.startswith("--", j, end)
    if close:
        j += 2
    while j < end and text[j] in " \t":
        j += 1
    if j == end:
        return j, close
    c = text[j]
    if c == "\n":
        return j + 1, close
    if c == "\r":
        return (j + 2 if text.startswith("\n", j + 1, end) else j + 1), close
    return None


def _parts(text: str, start: int, end: int, sep: str, budget: Budget, level: int
           ) -> list[Message]:
    parts: list[Message] = []
    part_start = -1   # where the current part begins; -1 while in the preamble
    pos = start
    while True:
        at = text.find(sep, pos, end)
        if at == -1:
            raise _Unusual  # no close delimiter (or no boundary at all)
        pos = at + 1
        if at != start and text[at - 1] not in "\r\n":
            continue  # not at the start of a line
        found = _boundary_end(text, at, end, sep)
        if found is None:
            continue  # "--boundaryX": text, not a boundary
        line_end, close = found
        if part_start == -1:
            if close:
                raise _Unusual  # a close delimiter before any part
        else:
            if part_start == at:
                raise _Unusual  # two boundary lines in a row: the stdlib skips them oddly
            parts.append(_node(text, part_start, at, budget, level + 1, strip=True))
        if close:
            return parts
        part_start = line_end
        pos = line_end
