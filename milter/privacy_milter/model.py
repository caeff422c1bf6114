"""The values that flow through the daemon: sessions, messages, findings, results, verdicts.

Everything here is plain data. The adapter builds Session and Message from milter
callbacks; filters read them and return Results; the pipeline folds Results into one
Verdict. None of these types ever holds a matched secret: a Finding is a category,
a confidence and a count.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass, field
from typing import BinaryIO

from .spool import SPOOL_MAX_MEMORY as SPOOL_MAX_MEMORY  # re-exported for the filters
from .spool import new_spool as new_spool
from .spool import open_raw



class Action(enum.IntEnum):
    """What happens to a message, ordered from mildest to strictest."""

    ACCEPT = 0
    TAG = 1          # deliver, with X-Privacy-* headers added
    QUARANTINE = 2   # Postfix hold queue
    TEMPFAIL = 3     # 4xx: the sender retries later
    REJECT = 4       # 5xx with a text for the sender

    @property
    def label(self) -> str:
        return self._name_.lower()  # the member's name without enum's `name` descriptor (read per message)



class Confidence(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3

    @property
    def label(self) -> str:
        return self._name_.lower()  # the member's name without enum's `name` descriptor (read per message)



class Direction(enum.Enum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class DirectionDecision:
    direction: Direction
    reason: str  # e.g. "auth", "mynetworks", "submission", "hosted-recipient", "default"


class DirectionUndecided(RuntimeError):
    """A message's direction was read before the runtime (or the scan) decided it."""


@dataclass(frozen=True)
class TlsInfo:
    """What the client session negotiated (from {tls_version}, {cipher}, {cipher_bits})."""

    version: str | None = None
    cipher: str | None = None
    bits: int | None = None

    @property
    def encrypted(self) -> bool:
        return bool(self.version)


@dataclass(frozen=True)
class Session:
    """One SMTP connection as Postfix describes it through macros."""

    connection_id: str
    client_addr: str | None = None
    client_name: str | None = None
    daemon_name: str | None = None
    daemon_port: str | None = None  # absent for mail from the sendmail command
    auth_authen: str | None = None
    tls: TlsInfo = TlsInfo()

    @property
    def authenticated(self) -> bool:
        return bool(self.auth_authen)


@dataclass(frozen=True)
class Recipient:
    address: str
    mailer: str | None = None  # {rcpt_mailer}: smtp, local, virtual, ...
    host: str | None = None    # {rcpt_host}

    @property
    def domain(self) -> str:
        return domain_of(self.address)


@dataclass(frozen=True)
class Finding:
    """A category of sensitive content seen in a message: never the value itself."""

    category: str
    confidence: Confidence
    count: int = 1
    where: str = "body"  # body, subject, header, attachment: a coarse location, never a file name
    rules: tuple[str, ...] = ()  # symbols of the detection rules that fired (docs/DLP.md)


@dataclass(frozen=True)
class Reply:
    """An SMTP reply for the sender; the text names categories, never values."""

    code: str       # "550"
    xcode: str      # "5.7.1"
    text: str


class EditKind(enum.Enum):
    ADD = "add"        # append at the end of the header
    INSERT = "insert"  # at a position: 0 is first (a signature)
    REMOVE = "remove"  # one occurrence of a name (a forged Authentication-Results)


@dataclass(frozen=True)
class HeaderEdit:
    """One change to the message's header, applied in pipeline order.

    `index` is the position for INSERT (0 = before every header) and, for REMOVE, which
    occurrence of `name` counting from 1 among the headers as received (libmilter's
    chgheader index). Values keep their folding (a DKIM signature must stay as signed).
    """

    kind: EditKind
    name: str
    value: str = ""
    index: int = 0

    @classmethod
    def add(cls, name: str, value: str) -> "HeaderEdit":
        return cls(EditKind.ADD, name, value)

    @classmethod
    def insert(cls, name: str, value: str, index: int = 0) -> "HeaderEdit":
        return cls(EditKind.INSERT, name, value, index)

    @classmethod
    def remove(cls, name: str, occurrence: int) -> "HeaderEdit":
        return cls(EditKind.REMOVE, name, "", occurrence)


@dataclass(frozen=True)
class Result:
    """What one filter concluded about one message."""

    filter: str
    action: Action = Action.ACCEPT
    findings: tuple[Finding, ...] = ()
    headers: tuple[tuple[str, str], ...] = ()  # appended, each on one line (X-Privacy-* tags)
    edits: tuple[HeaderEdit, ...] = ()         # anything else: insert at a position, remove
    reply: Reply | None = None
    facts: tuple[tuple[str, str], ...] = ()  # metadata for the store/log: ("spam", "no"), ...
    error: str | None = None                  # set when the filter failed and on_error applied
    seconds: float = 0.0                      # how long the filter took (prepare included)

    def timed(self, seconds: float) -> "Result":
        """This result with the time its filter took: dataclasses.replace(self, seconds=...)
        without looking the fields up each time (once per filter per message). Every field
        but the last is passed on (a test holds this to dataclasses.replace)."""
        return Result(self.filter, self.action, self.findings, self.headers, self.edits, self.reply, self.facts,
                      self.error, seconds)


@dataclass(frozen=True)
class Verdict:
    action: Action
    results: tuple[Result, ...]
    reply: Reply | None = None

    @property
    def findings(self) -> tuple[Finding, ...]:
        return tuple(f for r in self.results for f in r.findings)

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return tuple(h for r in self.results for h in r.headers)

    @property
    def edits(self) -> tuple[HeaderEdit, ...]:
        """Every header change in pipeline order (a result's tags, then its other edits)."""
        return tuple(e for r in self.results for e in result_edits(r))

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(sorted({f.category for f in self.findings}))


@dataclass
class Message:
    """One message as it is being received. The body is spooled past SPOOL_MAX_MEMORY."""

    session: Session
    mail_from: str = ""
    recipients: list[Recipient] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    queue_id: str | None = None
    # Inbound or outbound, with its reason: decided once by the runtime (direction.decide)
    # before any filter runs, or by the caller for an offline scan. None only until then:
    # read it as `direction`, `outbound` or `inbound`, which refuse an undecided message.
    decision: DirectionDecision | None = None
    body: BinaryIO = field(default_factory=lambda: new_spool())
    body_size: int = 0
    # The message exactly as read from a file (privacy-milter scan): raw() returns it as is.
    source: bytes | None = None
    # time.monotonic() by which the answer to Postfix is due (set by the runtime before any
    # filter work); CPU-bound checks stop there and count the rest as unscannable.
    deadline: float | None = None
    # True when header values are exactly as received: the text after the colon, leading
    # white space and folding (LF) included, as Postfix sends them with P_HDR_LEADSPC and
    # as from_bytes reads them. raw() is then byte-exact (DKIM `simple` relies on it).
    raw_headers: bool = False

    def write_body(self, chunk: bytes) -> None:
        self.body.write(chunk)
        self.body_size += len(chunk)

    @property
    def direction(self) -> DirectionDecision:
        """The decision; reading it before it was made is a bug, said at once."""
        if self.decision is None:
            raise DirectionUndecided("the message's direction is read before it was decided")
        return self.decision

    @direction.setter
    def direction(self, decision: DirectionDecision) -> None:
        self.decision = decision

    @property
    def outbound(self) -> bool:
        """Sent by one of ours (direction.py says who): the one test every filter uses."""
        return self.direction.direction is Direction.OUTBOUND

    @property
    def inbound(self) -> bool:
        return self.direction.direction is Direction.INBOUND

    @property
    def sender_domain(self) -> str:
        return domain_of(self.mail_from)

    @property
    def queue_label(self) -> str:
        """The queue id as logs and records show it ("NOQUEUE" before Postfix gave one)."""
        return self.queue_id or "NOQUEUE"

    def header(self, name: str) -> str | None:
        """The first header of that name, its value without the leading white space."""
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value.lstrip(" \t")
        return None

    def header_block(self) -> bytes:
        """The header as Postfix holds it, CRLF line ends, with the empty line that ends it."""
        return header_block(self.headers, self.raw_headers)

    def raw(self) -> BinaryIO:
        """The whole message (headers then body) as a readable file, positioned at 0.

        A new independent reader each call, over the same bytes: nothing is copied.
        """
        if self.source is not None:
            return io.BytesIO(self.source)
        self.body.flush()
        return open_raw(self.header_block(), self.body, self.body_size)

    def close(self) -> None:
        self.body.close()

    @classmethod
    def from_bytes(cls, raw: bytes, session: Session, mail_from: str = "",
                   recipients: list[Recipient] | None = None) -> "Message":
        """A message read from a file (for `privacy-milter scan`), split as Postfix would send it."""
        end, sep = len(raw), b""
        for candidate in (b"\r\n\r\n", b"\n\n"):
            i = raw.find(candidate)
            if i != -1 and i < end:
                end, sep = i, candidate
        header_block, body = (raw[:end], raw[end + len(sep):]) if sep else (raw, b"")
        message = cls(session=session, mail_from=mail_from, recipients=list(recipients or []),
                      raw_headers=True)
        message.headers = _split_headers(header_block)
        message.body_size = len(body)  # raw() hands out `source`; the body is not copied again
        message.source = raw
        return message


def _split_headers(block: bytes) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    # Decoded once: CR and LF are never part of a UTF-8 sequence, and an invalid byte becomes
    # the same surrogate whether its line is decoded alone or with the rest.
    for text in block.decode("utf-8", "surrogateescape").replace("\r\n", "\n").split("\n"):
        if text[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, value + "\n" + text)
        elif ":" in text:
            name, _, value = text.partition(":")
            headers.append((name.strip(), value))  # as written: leading space and all
    return headers


def wire_value(value: str) -> str:
    """A header value as it goes to Postfix and on the wire: the text after the colon, so it
    starts with one space unless it has its own white space; folded lines joined by LF (the
    milter protocol's line end: Postfix writes CRLF), never an empty continuation line."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = "\n".join(line for i, line in enumerate(lines) if i == 0 or line.strip())
    return text if text[:1] in (" ", "\t") else " " + text


def header_block(headers: list[tuple[str, str]], exact: bool = True) -> bytes:
    """Header lines as they go on the wire. `exact`: values hold their own leading white
    space and LF folding (as received); otherwise one space is put after the colon."""
    sep = ":" if exact else ": "
    text = "".join(f"{name}{sep}{value}\n" for name, value in headers)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8", "surrogateescape") + b"\r\n"


def result_edits(result: Result) -> tuple[HeaderEdit, ...]:
    tags = tuple(HeaderEdit.add(name, " ".join(value.split())) for name, value in result.headers)
    return tags + result.edits


def apply_edits(headers: list[tuple[str, str]], edits: tuple[HeaderEdit, ...] | list[HeaderEdit]
                ) -> list[tuple[str, str]]:
    """The header as it will leave the milter: `headers` (as received) with `edits` applied the
    way Postfix applies milter edits (removals count occurrences in the received header)."""
    received: list[tuple[str, str] | None] = list(headers)
    inserted: list[tuple[int, tuple[str, str]]] = []
    appended: list[tuple[str, str]] = []
    for edit in edits:
        if edit.kind is EditKind.REMOVE:
            seen = 0
            for i, item in enumerate(received):
                if item is not None and item[0].lower() == edit.name.lower():
                    seen += 1
                    if seen == edit.index:
                        received[i] = None
                        break
        elif edit.kind is EditKind.INSERT:
            inserted.append((edit.index, (edit.name, wire_value(edit.value))))
        else:
            appended.append((edit.name, wire_value(edit.value)))
    out = [item for item in received if item is not None] + appended
    for index, item in sorted(inserted, key=lambda pair: pair[0], reverse=True):
        out.insert(min(index, len(out)), item)
    return out


def domain_of(address: str) -> str:
    address = address.strip().strip("<>")
    _, at, domain = address.rpartition("@")
    return domain.lower().rstrip(".") if at else ""
