"""Walk an RFC 5322 message and hand every text a recipient would see to a sink.

Parsing uses the stdlib parser in its lenient compat32 mode: it never raises on broken
MIME, and every decode step below falls back instead of failing. Sizes are capped by
`Limits`; whatever is skipped for a cap is counted as unscannable.
"""

from __future__ import annotations

import binascii
import codecs
import quopri
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.feedparser import BytesFeedParser
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32

from .fastmime import fast_parse
from .mimeparams import content_charset, content_type, header_str
from .htmltext import html_to_text
from .limits import Limits

# sink(text, where) with where in "subject" | "header" | "body" | "attachment"
Sink = Callable[[str, str], None]


# Why something could not be scanned; each reason has its own action in policy.toml.
REASONS = ("too_large", "too_deep", "encrypted", "unsupported", "time", "budget", "malformed")
FEED = 64 * 1024  # bytes handed to the MIME parser between two looks at the clock
# Read the common shapes with fastmime (same tree, a fraction of the time); False makes every
# message go through the stdlib parser (tests compare the two).
FAST_PARSE = True


class ScanStopped(Exception):
    """The scan's deadline passed: unwinds every parser back to scan(), which reports "time"."""


@dataclass
class Budget:
    """Shared, mutable caps for one scan: parts walked, characters scanned, the deadline, and
    what could not be scanned (a count per reason)."""

    limits: Limits
    deadline: float = float("inf")  # time.monotonic() value
    parts: int = 0
    chars: int = 0
    candidates: int = 0             # detector matches examined (see scanner._detect_chunk)
    reasons: Counter[str] = field(default_factory=Counter)

    @property
    def unscannable(self) -> int:
        return sum(self.reasons.values())

    def fail(self, reason: str) -> None:
        assert reason in REASONS, reason
        self.reasons[reason] += 1

    def check(self) -> None:
        """Raise ScanStopped once the deadline has passed; cheap enough to call per item."""
        if time.monotonic() > self.deadline:
            raise ScanStopped

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def take_text(self, text: str) -> str:
        self.check()
        room = min(self.limits.max_part_chars, self.limits.max_total_chars - self.chars)
        if len(text) > room:
            self.fail("too_large")
            text = text[:max(room, 0)]
        self.chars += len(text)
        return text


def read_source(source: bytes | object, limits: Limits) -> tuple[bytes, bool]:
    """The raw message, at most max_message_bytes of it; True when it was cut short."""
    if isinstance(source, bytes) and len(source) <= limits.max_message_bytes:
        return source, False  # no copy of a message that is within the limit
    if isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source[:limits.max_message_bytes + 1])
    else:
        read = getattr(source, "read", None)
        if read is None:
            return b"", True
        raw = read(limits.max_message_bytes + 1) or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
    return raw[:limits.max_message_bytes], len(raw) > limits.max_message_bytes


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)  # checked first: FF FE 00 00 starts like UTF-16-LE's


def decode_bytes(data: bytes, charset: str | None, budget: Budget | None = None) -> str:
    """Bytes to text in the declared charset, else UTF-8, else cp1252 (which never fails).
    A charset Python does not know, on bytes that are not UTF-8, is read as cp1252 as a best
    guess and counted "unsupported" in `budget`: the reading may not be what the reader saw."""
    if data.startswith(_UTF32_BOMS):
        charset = "utf-32"  # a byte order mark outranks a missing or wrong label
    elif data.startswith(_UTF16_BOMS):
        charset = "utf-16"
    elif (sniffed := utf16_without_bom(data)) is not None:
        charset = sniffed  # "H\0i\0 \0..." written by Windows tools without a BOM (or UTF-32)
    for name in (charset, "utf-8"):
        if not name:
            continue
        try:
            codecs.lookup(name)
            # NULs go after decoding: in UTF-16 they are half of every ASCII letter.
            return data.decode(name).replace("\x00", " ")
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    if budget is not None and charset and not _known_charset(charset):
        budget.fail("unsupported")
    return data.decode("cp1252", "replace").replace("\x00", " ")


def _known_charset(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def utf16_without_bom(data: bytes) -> str | None:
    """"utf-16-le"/"utf-16-be" when every other byte of a sample is NUL (ASCII as UTF-16)."""
    sample = data[:4096]
    if b"\x00" not in sample:  # most text: no NUL, so too few (one search, not a count)
        return None
    if len(sample) < 8 or sample.count(0) < len(sample) // 3:
        return None
    if (wide := _utf32_without_bom(sample)) is not None:
        return wide
    odd, even = sample[1::2], sample[0::2]
    if odd.count(0) >= 0.7 * len(odd) and even.count(0) <= 0.1 * len(even):
        return "utf-16-le"
    if even.count(0) >= 0.7 * len(even) and odd.count(0) <= 0.1 * len(odd):
        return "utf-16-be"
    return None


def _utf32_without_bom(sample: bytes) -> str | None:
    """"utf-32-le"/"utf-32-be" when three bytes of every four are NUL (ASCII as UTF-32)."""
    quarters = [sample[i::4] for i in range(4)]
    nul = [q.count(0) / max(len(q), 1) for q in quarters]
    if min(nul[1], nul[2], nul[3]) >= 0.9 and nul[0] <= 0.1:
        return "utf-32-le"
    if min(nul[0], nul[1], nul[2]) >= 0.9 and nul[3] <= 0.1:
        return "utf-32-be"
    return None


def header_text(value: object) -> str:
    """An RFC 2047 header decoded to text; raw text when the encoding is broken."""
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:
        # No encoded word: decode_header hands the text back as one unencoded chunk and
        # make_header/str() return it unchanged, at ~5 us a header.
        return text
    try:
        return str(make_header(decode_header(text)))
    except (LookupError, UnicodeError, ValueError, TypeError, AssertionError):
        return str(value)


def part_payload(part: Message, limit: int, check: Callable[[], None] = lambda: None
                 ) -> tuple[bytes, str | None]:
    """The decoded body of a leaf part, at most `limit` bytes, and why it is incomplete
    ("too_large" when it was cut, "malformed" when it did not decode) or None.

    The encoded text is cut *before* decoding, so a 50 MB base64 part never exists twice
    in memory in full. Decoding goes a megabyte at a time, calling `check` in between.
    """
    stored = part._payload  # type: ignore[attr-defined]
    # The stored text keeps 8-bit bytes as surrogates, which the encode below turns back into
    # the bytes sent; get_payload() would decode them with the declared charset and, for one
    # Python does not know, replace them with U+FFFD (nothing left to read, or to count).
    raw = stored if isinstance(stored, str) else payload_text(part)
    if not isinstance(raw, str):
        return b"", None
    cte = header_str(part, "content-transfer-encoding").strip().lower()
    room = limit * 4 // 3 + 4 if cte == "base64" else limit * 3 if cte == "quoted-printable" \
        else limit
    cut = len(raw) > room
    if cut:
        raw = raw[:room]
    data = raw.encode("ascii", "surrogateescape") if raw.isascii() else \
        raw.encode("utf-8", "surrogateescape")
    try:
        if cte == "base64":
            compact = data.translate(None, _NOT_B64)
            data = _in_pieces(compact[:len(compact) // 4 * 4], binascii.a2b_base64, check)
        elif cte == "quoted-printable":
            data = _in_pieces(data, quopri.decodestring, check, at=b"\n")
    except (binascii.Error, ValueError):
        return b"", "malformed"  # undecodable: count the part as unscannable
    return data[:limit], "too_large" if cut or len(data) > limit else None


def payload_text(part: Message) -> object:
    """part.get_payload(). For ASCII text that is the stored payload itself: get_payload
    re-reads it only for the surrogates 8-bit bytes leave (an encode of the whole payload to
    find out) and looks Content-Transfer-Encoding up on the way, ~9,000 instructions a part."""
    raw = part._payload  # type: ignore[attr-defined]
    if isinstance(raw, str) and raw.isascii():
        return raw
    return part.get_payload()


DECODE_PIECE = 1024 * 1024  # encoded bytes decoded between two looks at the clock


def _in_pieces(data: bytes, decode: Callable[[bytes], bytes], check: Callable[[], None],
               at: bytes | None = None) -> bytes:
    """decode(data) a piece at a time: base64 pieces are a multiple of 4 bytes, quoted-
    printable pieces end at a line break (no escape spans one)."""
    if len(data) <= DECODE_PIECE:
        return decode(data)
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        check()
        end = min(len(data), pos + DECODE_PIECE)
        if end < len(data) and at is not None:
            nl = data.rfind(at, pos, end)
            end = nl + 1 if nl != -1 else end
        out.append(decode(data[pos:end]))
        pos = end
    return b"".join(out)


def walk_message(raw: bytes, sink: Sink, budget: Budget, depth: int = 0,
                 where: str = "body") -> None:
    """Parse raw bytes and feed every visible text to sink."""
    from .extract import extract_attachment  # extract also walks nested messages

    try:
        msg = fast_parse(raw, budget) if FAST_PARSE else None
        if msg is None:
            msg = parse(raw, budget)
    except ScanStopped:
        raise
    except Exception:  # noqa: BLE001 - the stdlib parser is lenient; anything else is corrupt input
        budget.fail("malformed")
        return
    subject = header_text(msg.get("Subject"))
    if subject:
        sink(budget.take_text(subject), "subject" if where == "body" else where)
    if notes := free_text_headers(msg):
        sink(budget.take_text(notes), "header" if where == "body" else where)
    _walk(msg, sink, budget, depth, where, extract_attachment)


# Headers people write in, besides Subject: a card in "X-Order-Note:", a password in
# "Comments:". Machine headers (routing, authentication, spam and virus stamps, vendors'
# tracking) are left out: they are not written by the sender and hold long tokens.
FREE_TEXT_HEADERS = frozenset({"comments", "keywords", "summary", "organization", "organisation",
                               "thread-topic", "content-description", "description", "x-comment",
                               "x-comments", "x-note", "x-notes"})
MACHINE_PREFIXES = ("x-ms-", "x-microsoft", "x-exchange", "x-forefront", "x-eop", "x-google", "x-gm-",
                    "x-received", "x-spam", "x-virus", "x-privacy", "x-proofpoint", "x-ironport",
                    "x-mimecast", "x-rspamd", "x-amavis", "x-originating", "x-sender", "x-mailgun", "x-ses-",
                    "x-sg-", "x-feedback", "x-campaign", "x-mc-", "x-cloudmark", "x-apple-", "x-yahoo",
                    "x-ymail", "x-aol", "x-antispam", "x-sophos", "x-barracuda", "x-forwarded", "x-original",
                    "x-envelope", "x-authenticat", "x-dkim", "x-arc", "x-msg", "x-message-", "x-mailer",
                    "x-mimeole", "x-priority", "x-msmail", "x-uid", "x-report", "x-abuse", "x-complaints",
                    "x-beenthere", "x-list", "x-loop", "x-auto", "x-ovh", "x-scanned", "x-clam", "x-tm-",
                    "x-kse", "x-zoho", "x-hm", "x-source", "x-php", "x-csa", "x-incoming", "x-mid", "x-job")


# Headers whose display names a reader sees ("From: Card 4539 ... <a@b>").
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})


def free_text_headers(msg: Message) -> str:
    """The free-text headers as "Name: value" lines (the name is context: "X-Card-Note"),
    and the display names of the address headers."""
    lines = []
    fetch = msg.policy.header_fetch_parse  # what msg.items() applies to every header, here only to these
    for name, raw in msg.raw_items():
        lname = name.lower()
        if lname in FREE_TEXT_HEADERS or (lname.startswith("x-") and not lname.startswith(MACHINE_PREFIXES)):
            if text := header_text(fetch(name, raw)):
                lines.append(f"{name}: {text}")
        elif lname in ADDRESS_HEADERS:
            if shown := display_names(header_text(fetch(name, raw))):
                lines.append(f"{name}: {shown}")
    return "\n".join(lines)


_DISPLAY_NAME = re.compile(r'"((?:[^"\\]|\\.)*)"\s*<|([^,<>"]+)<')


def display_names(value: str) -> str:
    """The display names in an address header, "; "-joined ("" for bare addresses)."""
    if "<" not in value:
        return ""  # bare addresses: no name to read (no parse)
    # A name is what stands before "<addr>": quoted, or a phrase up to the last comma. One
    # regex pass (email.utils.getaddresses costs ~40 us a header, most of this step).
    names = [(q or p).strip() for q, p in _DISPLAY_NAME.findall(value[:4096])]
    return "; ".join(n for n in names if n)


def parse(raw: bytes, budget: Budget) -> Message:
    """message_from_bytes, fed in slices so a hostile structure cannot outrun the deadline."""
    parser = BytesFeedParser(policy=compat32)
    view = memoryview(raw)
    for start in range(0, len(raw), FEED):
        budget.check()
        parser.feed(bytes(view[start:start + FEED]))
    budget.check()
    return parser.close()


def _walk(msg: Message, sink: Sink, budget: Budget, depth: int, where: str,
          extract_attachment: Callable[..., None]) -> None:
    stack = [msg]
    while stack:
        part = stack.pop()
        budget.check()
        budget.parts += 1
        if budget.parts > budget.limits.max_parts:
            budget.fail("too_large")
            return
        ctype = (content_type(part) or "text/plain").lower()  # parsed once per part
        if part.is_multipart():
            payload = part.get_payload()
            cte = header_str(part, "content-transfer-encoding").strip().lower()
            if ctype == "message/rfc822" and cte in ("base64",
                                                                        "quoted-printable"):
                # Forbidden by RFC 2046 but sent anyway: the parser saw encoded text, not a
                # message, so decode it ourselves and walk it as an attached message.
                inner_raw = _encoded_inner(payload, cte)
                if depth >= budget.limits.max_depth:
                    budget.fail("too_deep")
                else:
                    walk_message(inner_raw, sink, budget, depth + 1, where="attachment")
                continue
            if isinstance(payload, list):
                if ctype == "message/rfc822":
                    for inner in payload:  # a forwarded message's headers are visible text too
                        if not isinstance(inner, Message):
                            continue
                        if subject := header_text(inner.get("Subject")):
                            sink(budget.take_text(subject), where)
                        if notes := free_text_headers(inner):
                            sink(budget.take_text(notes), "attachment")
                stack.extend(reversed([p for p in payload if isinstance(p, Message)]))
            continue
        disposition = header_str(part, "content-disposition").lower()
        type_header = header_str(part, "content-type").lower()
        # get_filename parses two headers' parameters: only ask when a name can be there.
        named = "name" in disposition or "name" in type_header
        filename = header_text(_filename(part) if named else None)
        is_attachment = "attachment" in disposition or bool(filename)
        if filename:  # "Passwort Wlan 8fK2#pq.txt": a name is text someone typed
            sink(budget.take_text(filename), "attachment")
        data, incomplete = part_payload(part, budget.limits.max_part_bytes, budget.check)
        if incomplete:
            budget.fail(incomplete)
        if not is_attachment and ctype in ("text/plain", "text/html", "text/enriched", ""):
            text = decode_bytes(data, content_charset(part), budget)
            if "flowed" in type_header and \
                    str(part.get_param("format", "", header="content-type")).lower() == "flowed":
                # RFC 3676: a line ending in a space continues on the next one.
                text = text.replace("\r\n", "\n").replace(" \n", " ")
            if ctype == "text/html":
                text = html_to_text(text, budget.limits.max_part_chars, budget.check)
            sink(budget.take_text(text), where)
            continue
        extract_attachment(data, ctype, filename, content_charset(part), sink, budget,
                           depth)


_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_NOT_B64 = bytes(b for b in range(256) if b not in _B64_ALPHABET)


def _encoded_inner(payload: object, cte: str) -> bytes:
    import base64
    import quopri

    inner = payload[0] if isinstance(payload, list) and payload else payload
    text = inner.as_string() if isinstance(inner, Message) else str(inner or "")
    data = text.encode("ascii", "ignore")
    if cte == "base64":
        compact = data.translate(None, _NOT_B64)
        try:
            return base64.b64decode(compact[:len(compact) // 4 * 4])  # drop a truncated tail
        except ValueError:  # binascii.Error: padding in the middle
            return b""
    return quopri.decodestring(data)


def _filename(part: Message) -> str | None:
    try:
        return part.get_filename(None)
    except Exception:  # noqa: BLE001 - malformed RFC 2231 parameters
        return None
