"""Long-lived helpers the daemon runs on the loop, handed to filters and jobs.

Everything a check or job needs from outside comes through here, so a test can hand in a
stub (a DNS dictionary, a fake classifier, a virtual clock) instead of patching modules:
the TLS classifier (tlspolicy service), one HTTP client session for the whole daemon, an
SMTP sender for the mail the daemon writes itself (the weekly summary), the store, a clock,
and a DNS TXT resolver (DKIM keys).
A service that is not running is None; a filter that needs it says so in its result.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import aiohttp
import dns.asyncresolver
import dns.exception
import dns.name
import dns.resolver

from .errors import PrivacyMilterError

TxtResolver = Callable[[str], Awaitable[list[bytes]]]

log = logging.getLogger("privacy_milter.smtp")


class TlsClassifier(Protocol):
    """What the tls filter needs of the TLS policy service (tlspolicy.TlsPolicyService)."""

    async def classify(self, domain: str) -> Any: ...


class SmtpSendError(PrivacyMilterError):
    """The mail could not be handed over; the text names the server and the reply code only."""


TLS_MODES = ("none", "opportunistic", "verify")


@dataclass(frozen=True)
class SmtpSender:
    """Hands mail the daemon writes itself to an SMTP server (by default the local Postfix).

    smtplib in a worker thread: one message a week does not need an async client, and the
    loop never blocks. `tls` ([smtp] tls): "none" never starts TLS; "opportunistic" uses
    STARTTLS when offered without checking the certificate (a local Postfix's stock one is
    self-signed, and the mail does not leave the machine); "verify" requires STARTTLS and a
    certificate that chains to the system's CAs (or `ca_file`) and names `host`. `send`
    returns, and logs, which of them was used.
    """

    host: str = "127.0.0.1"
    port: int = 25
    timeout: float = 30.0
    helo: str = field(default_factory=socket.getfqdn)
    tls: str = "opportunistic"
    ca_file: str = ""

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}; got {self.tls!r}")

    @classmethod
    def from_settings(cls, settings: Any, helo: str) -> "SmtpSender":
        """From policy_sections.SmtpSettings ([smtp]); `helo` is the daemon's host name."""
        return cls(settings.host, settings.port, settings.timeout, helo, settings.tls, settings.ca_file)

    async def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        """Hand the message over; returns how (the TLS used), e.g. "STARTTLS TLSv1.3,
        certificate not verified (tls = opportunistic)"."""
        how = await asyncio.to_thread(self._send, message, sender, recipients)
        log.info("smtp: %s:%d accepted a message for %d recipient(s); %s", self.host, self.port,
                 len(recipients), how)
        return how

    def _send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        where = f"{self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, local_hostname=self.helo, timeout=self.timeout) as smtp:
                smtp.ehlo()
                how = self._start_tls(smtp, where)
                refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
        except smtplib.SMTPResponseException as exc:
            raise SmtpSendError(f"{where} answered {exc.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({str(code) for code, _ in exc.recipients.values()})
            raise SmtpSendError(f"{where} refused every recipient ({', '.join(codes)})") from None
        except ssl.SSLCertVerificationError as exc:
            raise SmtpSendError(
                f"cannot deliver to {where}: its certificate could not be verified ({exc.verify_message}) "
                f'and [smtp] tls = "verify"; set [smtp] ca_file to the CA that issued it, or, for the '
                f'local Postfix with its own self-signed certificate, host = "127.0.0.1" with '
                f'tls = "opportunistic"') from None
        except (OSError, smtplib.SMTPException) as exc:
            raise SmtpSendError(f"cannot deliver to {where}: {type(exc).__name__}: {exc}") from None
        if refused:
            codes = sorted({str(code) for code, _ in refused.values()})
            raise SmtpSendError(f"{where} refused {len(refused)} recipient(s) ({', '.join(codes)})")
        return how

    def _start_tls(self, smtp: smtplib.SMTP, where: str) -> str:
        if self.tls == "none":
            return "no TLS (tls = none)"
        if not smtp.has_extn("starttls"):
            if self.tls == "verify":
                raise SmtpSendError(f'{where} does not offer STARTTLS, and [smtp] tls = "verify" requires it')
            return "no TLS: the server does not offer STARTTLS (tls = opportunistic)"
        smtp.starttls(context=self._context())
        smtp.ehlo()
        version = smtp.sock.version() if isinstance(smtp.sock, ssl.SSLSocket) else "TLS"
        checked = "verified" if self.tls == "verify" else "not verified"
        return f"STARTTLS {version}, certificate {checked} (tls = {self.tls})"

    def _context(self) -> ssl.SSLContext:
        if self.tls == "verify":
            return ssl.create_default_context(cafile=self.ca_file or None)
        ctx = ssl.create_default_context()
        ctx.check_hostname = False      # opportunistic: encrypted, but anyone's certificate will do
        ctx.verify_mode = ssl.CERT_NONE
        return ctx


class DnsError(Exception):
    """Base of the lookup failures a TxtResolver raises."""


class DnsTemporaryError(DnsError):
    """Time-out, SERVFAIL, no server reachable: ask again later."""


class DnsTimeout(DnsTemporaryError):
    """No answer within the resolver's lifetime (a server that never answers)."""


class DnsNameError(DnsError):
    """NXDOMAIN: the name does not exist."""


class DnsTxt:
    """`await DnsTxt(...)(name) -> list[bytes]`: the TXT records at `name`, each record's
    character-strings joined without separators; [] when the name exists without TXT
    (NODATA). A time-out or SERVFAIL raises DnsTemporaryError, NXDOMAIN DnsNameError: a
    DKIM verifier must tell them apart (temperror is never "none").

    `nameserver` None: the nameservers of /etc/resolv.conf. No search list, no cache of
    its own (the local resolver caches)."""

    def __init__(self, nameserver: str | None = None, port: int = 53, timeout: float = 5.0) -> None:
        resolver = dns.asyncresolver.Resolver(configure=nameserver is None)
        if nameserver is not None:
            resolver.nameservers = [nameserver]
        resolver.port = port
        resolver.lifetime = timeout
        resolver.timeout = min(timeout, 2.0)
        resolver.cache = None
        resolver.search = []
        resolver.use_search_by_default = False
        self._resolver = resolver

    async def __call__(self, name: str) -> list[bytes]:
        try:
            qname = dns.name.from_text(name.rstrip(".") + ".")
        except (dns.exception.DNSException, UnicodeError, ValueError):
            raise DnsNameError(f"{name[:80]!r} is not a valid domain name") from None
        try:
            answer = await self._resolver.resolve(qname, "TXT", raise_on_no_answer=False, search=False)
        except dns.resolver.NXDOMAIN:
            raise DnsNameError(f"{qname} does not exist") from None
        except dns.resolver.NoNameservers:
            raise DnsTemporaryError(f"TXT {qname}: SERVFAIL or no server answered") from None
        except dns.exception.Timeout:
            raise DnsTimeout(f"TXT {qname}: timed out") from None
        except dns.exception.DNSException as exc:
            raise DnsTemporaryError(f"TXT {qname}: {type(exc).__name__}") from None
        if answer.rrset is None:
            return []
        return [b"".join(rdata.strings) for rdata in answer.rrset]


HTTP_CONNECTIONS = 32  # open connections the daemon keeps to HTTP engines (rspamd), all hosts together


def http_session() -> aiohttp.ClientSession:
    """The daemon's one HTTP client session, made on the loop at start, closed at stop.

    One pool for every message: checks reuse kept-alive connections instead of opening one
    (and a session) per message. No cookie jar: a cookie an engine set while one customer's
    message was checked must never travel with another's. Timeouts are per request (each
    check passes its own)."""
    return aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(),
                                 connector=aiohttp.TCPConnector(limit=HTTP_CONNECTIONS))


@dataclass(frozen=True)
class ReportRows:
    """One received report's aggregate rows (issue 28), in the column order of its table
    (store/reports.py: TLS_COLUMNS or DMARC_COLUMNS): what the reports filter hands the store."""

    kind: str            # "tlsrpt" or "dmarc"
    reporter: str
    report_id: str
    authenticated: bool
    rows: tuple[tuple[Any, ...], ...]


class ReportStoreError(Exception):
    """The store could not take a report (the message says why, never the report)."""


class ReportStore(Protocol):
    """Where the reports filter writes (store/reports.py StoreReports; None: not running here)."""

    async def write(self, report: ReportRows) -> None: ...


@dataclass(frozen=True)
class Services:
    """What the daemon hands its filters and jobs (None: not running here)."""

    tls_classifier: TlsClassifier | None = None
    smtp: SmtpSender | None = None       # the daemon's own mail ([smtp]): the weekly summary
    http: aiohttp.ClientSession | None = None  # http_session(); None in tools and tests: a check opens its own
    store: Any = None          # privacy_milter.store.Store, for jobs that read reports
    clock: Callable[[], float] = time.time
    dns_txt: TxtResolver | None = None   # DnsTxt: the system resolver, for DKIM keys
    host_name: str = ""                  # this host's one name (hostname.resolve); "" in tools and tests
    reports: ReportStore | None = None   # received TLS-RPT/DMARC reports' rows (store/reports.py)
