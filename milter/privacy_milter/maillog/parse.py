"""One Postfix log line in, one typed event out: the smtp client's TLS and delivery lines.

Formats read (checked against Postfix 3.7.11 and its strings):
- Postfix's own `maillog_file` (postlogd): `Dec 02 19:27:36 host postfix/smtp[123]: ...`,
  strftime `%b %d %H:%M:%S`, local time, no year (later Postfix adds `.%06d`; accepted).
- rsyslog's traditional format (`Dec  2 ...`, day padded with a space) and its default
  RSYSLOG_FileFormat (`2026-12-02T19:27:36.123456+00:00 host postfix/smtp[123]: ...`).

The program tag may carry a service name (`postfix/privacy-encrypt/smtp`, `postfix-out/smtp`).
The recipient's local part is dropped here, at parse time, and the reply text is read only
to classify it into a TLS-RPT (RFC 8460) reason code, then dropped: no event holds either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import Enum

# RFC 8460 result types used here
STARTTLS_NOT_SUPPORTED = "starttls-not-supported"
CERTIFICATE_EXPIRED = "certificate-expired"
CERTIFICATE_HOST_MISMATCH = "certificate-host-mismatch"
CERTIFICATE_NOT_TRUSTED = "certificate-not-trusted"
VALIDATION_FAILURE = "validation-failure"
TLSA_INVALID = "tlsa-invalid"
DNSSEC_INVALID = "dnssec-invalid"
DANE_REQUIRED = "dane-required"

_MONTHS = {m: i for i, m in enumerate(
    "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}

_PROG_PID = r"(?P<prog>[\w.-]+(?:/[\w.-]+)*)\[(?P<pid>\d{1,10})\]: (?P<msg>.*)"
_TRADITIONAL = re.compile(
    r"(?P<mon>[A-Z][a-z]{2}) {1,2}(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)"
    r"(?:\.\d{1,9})? (?P<host>\S+) " + _PROG_PID)
_ISO = re.compile(
    r"(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)?) "
    r"(?P<host>\S+) " + _PROG_PID)

_TLS = re.compile(
    r"(?P<level>Verified|Trusted|Untrusted|Anonymous) TLS connection (?:established|reused)"
    r" to (?P<relay>\S+): (?P<version>[\w.]+) with cipher (?P<cipher>\S+)")
_DELIVERY = re.compile(
    r"(?P<qid>[0-9A-Za-z]{5,20}): to=<(?P<rcpt>.{0,1000}?)>, (?:orig_to=<.{0,1000}?>, )?"
    r"relay=(?P<relay>[^,\s]+), .*?dsn=(?P<dsn>[245]\.\d{1,3}\.\d{1,3}), "
    r"status=(?P<status>sent|deferred|bounced|expired|undeliverable|deliverable)"
    r"(?: \((?P<text>.*)\))?")
_NAMADDR = re.compile(r"\S+\[[^\]]*\](?::\d+)?")
_FAIL_FOR = re.compile(r"(?:(?:server|peer) )?certificate verification failed for "
                       r"(?P<relay>\S+?): (?P<what>.*)")
_TLSA_FOR = re.compile(r"(?:TLSA lookup error for (?P<relay>\S+)|(?P<relay2>\S+?): all TLSA"
                       r" records unusable|DANE TLSA lookup problem)")
_DOMAIN = re.compile(r"[A-Za-z0-9._-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]|[^\s@<>\"'&;\\]{1,253}")


class TlsLevel(str, Enum):
    """Postfix's words for a TLS session, from its summary line (tls_misc.c)."""
    VERIFIED = "verified"          # peer name and chain (or DANE) verified
    TRUSTED = "trusted"            # chain trusted, name not checked
    UNTRUSTED = "untrusted"        # certificate present, not trusted
    ANONYMOUS = "anonymous"        # no certificate (anonymous cipher)


@dataclass(frozen=True, slots=True)
class TlsEstablished:
    time: datetime
    host: str                      # the host that logged it (one log may hold several)
    prog: str
    pid: int
    level: TlsLevel
    version: str
    cipher: str
    relay: str                     # HOST[IP]:PORT exactly as Postfix names the peer


@dataclass(frozen=True, slots=True)
class TlsFailure:
    time: datetime
    host: str                      # the host that logged it (one log may hold several)
    prog: str
    pid: int
    reason: str                    # a TLS-RPT result type
    relay: str | None              # HOST[IP]:PORT when the line names it


@dataclass(frozen=True, slots=True)
class DeliveryLine:
    time: datetime
    host: str                      # the host that logged it (one log may hold several)
    prog: str
    pid: int
    queue_id: str
    rcpt_domain: str               # never the local part
    relay: str                     # HOST[IP]:PORT, or "none"
    dsn: str
    status: str                    # sent | deferred | bounced | expired | ...
    reason: str | None             # TLS-RPT reason classified from the reply text, if TLS


Event = TlsEstablished | TlsFailure | DeliveryLine


class LineKind(str, Enum):
    EVENT = "event"                # a TLS or delivery line of the smtp client
    OTHER = "other"                # a well-formed log line of no interest here
    UNPARSED = "unparsed"          # not a log line we can read (garbage, binary, cut)


def failure_reason(what: str) -> str:
    """A TLS-RPT result type for what follows `certificate verification failed for X:`."""
    low = what.lower()
    if "expired" in low:
        return CERTIFICATE_EXPIRED
    if "hostname mismatch" in low or "name mismatch" in low or "num=62:" in low:
        return CERTIFICATE_HOST_MISMATCH
    if "tlsa" in low:
        return TLSA_INVALID
    if "untrusted issuer" in low or "self-signed" in low or "self signed" in low \
            or "not trusted" in low or "local issuer" in low:
        return CERTIFICATE_NOT_TRUSTED
    return VALIDATION_FAILURE


def reply_reason(status: str, text: str | None) -> str | None:
    """A TLS-RPT reason from the text Postfix gives a non-sent delivery (smtp_proto.c)."""
    if status == "sent" or not text:
        return None
    if "TLS is required, but was not offered" in text or "refused to start TLS" in text:
        return STARTTLS_NOT_SUPPORTED
    if "Server certificate not verified" in text or "Server certificate not trusted" in text:
        return VALIDATION_FAILURE      # refined by the session's failure line, when there is one
    if "TLSA lookup error" in text or "TLSA records unusable" in text:
        return TLSA_INVALID
    if "no TLSA records found" in text:
        return DANE_REQUIRED
    if "Cannot start TLS" in text or "TLS is required" in text:
        return VALIDATION_FAILURE
    return None


def recipient_domain(rcpt: str) -> str:
    """The domain of `local@domain`, lower-cased; the local part never leaves this function."""
    _, at, domain = rcpt.rpartition("@")
    domain = domain.strip().rstrip(".").lower() if at else ""
    if not domain:
        return "(none)"
    return domain if _DOMAIN.fullmatch(domain) else "(invalid)"


def _header(line: str, now: datetime | None, tz: tzinfo | None) -> tuple[datetime, re.Match[str]] | None:
    if m := _TRADITIONAL.match(line):
        mon = _MONTHS.get(m["mon"])
        if mon is None:
            return None
        ref = now or datetime.now(tz)
        try:
            when = datetime(ref.year, mon, int(m["day"]), int(m["h"]), int(m["m"]), int(m["s"]),
                            tzinfo=tz if tz is not None else ref.tzinfo)
            if when > ref + timedelta(days=2):    # December's lines read in January
                when = when.replace(year=ref.year - 1)
        except ValueError:                         # Feb 30, 25:00, Feb 29 in a common year
            return None
        return when, m
    if m := _ISO.match(line):
        try:
            when = datetime.fromisoformat(m["iso"])
        except ValueError:
            return None
        if when.tzinfo is None and tz is not None:
            when = when.replace(tzinfo=tz)
        return when, m
    return None


def classify_line(line: str | bytes, *, now: datetime | None = None,
                  tz: tzinfo | None = None) -> tuple[LineKind, Event | None]:
    """Read one line (without or with its newline). `now` and `tz` place a year-less time
    stamp: the year is now's (or the year before, for a date more than two days ahead), the
    zone is `tz` (default: now's zone, or naive local time)."""
    if isinstance(line, bytes):
        if b"\0" in line:
            return LineKind.UNPARSED, None
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError:
            return LineKind.UNPARSED, None
    line = line.rstrip("\r\n")
    head = _header(line, now, tz)
    if head is None:
        return LineKind.UNPARSED, None
    when, m = head
    host, prog = m["host"].lower(), m["prog"]
    if prog.rsplit("/", 1)[-1] != "smtp":
        return LineKind.OTHER, None
    pid, msg = int(m["pid"]), m["msg"]
    if d := _DELIVERY.fullmatch(msg):
        return LineKind.EVENT, DeliveryLine(
            when, host, prog, pid, d["qid"], recipient_domain(d["rcpt"]), d["relay"], d["dsn"],
            d["status"], reply_reason(d["status"], d["text"]))
    if t := _TLS.match(msg):
        return LineKind.EVENT, TlsEstablished(
            when, host, prog, pid, TlsLevel(t["level"].lower()), t["version"], t["cipher"],
            t["relay"].rstrip(":"))
    if f := _FAIL_FOR.match(msg):
        return LineKind.EVENT, TlsFailure(when, host, prog, pid, failure_reason(f["what"]), f["relay"])
    if f := _TLSA_FOR.search(msg):
        relay = f["relay"] or f["relay2"]
        reason = TLSA_INVALID if f["relay2"] else DNSSEC_INVALID
        return LineKind.EVENT, TlsFailure(when, host, prog, pid, reason, relay)
    return LineKind.OTHER, None


def parse_line(line: str | bytes, *, now: datetime | None = None,
               tz: tzinfo | None = None) -> Event | None:
    """The smtp client's TLS-established, TLS-failure or delivery event on this line, or None."""
    return classify_line(line, now=now, tz=tz)[1]


def relay_host(relay: str) -> str:
    """`mx.example[192.0.2.1]:25` -> `mx.example`; `none` stays `none`."""
    if _NAMADDR.fullmatch(relay):
        return relay.split("[", 1)[0].lower()
    return relay.lower()
