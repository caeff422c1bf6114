"""The Postfix-facing edge: pymilter callbacks, kept thin.

Callbacks only collect (envelope, headers, body into a spool) and answer at once; the
steps we do not use are negotiated away and the ones we only listen to need no reply,
so Postfix waits on us once per message: at end of message, when the collected message
is handed to the event loop with a deadline. Any exception costs that message a
tempfail, never the daemon.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, Protocol

import Milter

from . import logcontext, memtrim
from .model import Action, EditKind, Message, Recipient, Session, TlsInfo, Verdict, wire_value

log = logging.getLogger("privacy_milter.adapter")

# The macros we read, by the Postfix parameter that must list them. Postfix 3.7 sends only
# what main.cf lists (it does not act on a milter's setsymlist request), so these tuples are
# the source of the lines `make run` prints and deploy/postfix/main.cf carries.
MAIL_MACROS = ("i", "{auth_type}", "{auth_authen}", "{client_addr}", "{daemon_name}", "{daemon_port}",
               "{tls_version}", "{cipher}", "{cipher_bits}")
RCPT_MACROS = ("i", "{rcpt_addr}", "{rcpt_host}", "{rcpt_mailer}")
EOM_MACROS = ("i",)
POSTFIX_MACRO_PARAMETERS = {
    "milter_mail_macros": MAIL_MACROS,
    "milter_rcpt_macros": RCPT_MACROS,
    "milter_end_of_data_macros": EOM_MACROS,
}

TEMPFAIL_TEXT = ("451", "4.7.1", "Temporary problem checking this message; please try again later")

_connection_ids = itertools.count(1)

class Handler(Protocol):
    """What the adapter hands a finished message to (runtime.Runtime.judge): it blocks this
    connection's thread until the verdict, within the policy's deadline, and records it."""

    def judge(self, message: Message) -> Verdict: ...


@Milter.header_leading_space  # values as received: the raw message is byte-exact (DKIM simple)
class MilterAdapter(Milter.Base):
    """One instance per SMTP connection (pymilter's factory makes them)."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self._handler = handler
        self._connection_id = f"c{next(_connection_ids)}"
        self.message: Message | None = None
        self._broken: str | None = None  # set when collecting failed: the message is tempfailed
        self.connection_inode: int | None = 0  # the socket, for the connection watch (0: not looked up)

    # --- negotiated away -----------------------------------------------------------------

    @Milter.nocallback
    def connect(self, hostname: str, family: int, hostaddr: Any) -> int:
        return Milter.CONTINUE

    @Milter.nocallback
    def hello(self, hostname: str) -> int:
        return Milter.CONTINUE

    @Milter.nocallback
    def data(self) -> int:
        return Milter.CONTINUE

    @Milter.nocallback
    def eoh(self) -> int:
        return Milter.CONTINUE

    @Milter.nocallback
    def unknown(self, cmd: str) -> int:
        return Milter.CONTINUE

    # --- collecting ----------------------------------------------------------------------

    # @Milter.decode: pymilter's own default strategy, stated: its envfrom_bytes and
    # envrcpt_bytes look the strategy up on the method, and a bound method without it raises
    # (and drops) an AttributeError on every call.
    @Milter.decode("surrogateescape")
    @Milter.noreply
    def envfrom(self, mail_from: str, *params: str) -> int:
        self._reset()
        try:
            self.message = Message(session=self._session(), mail_from=_strip(mail_from), raw_headers=True)
            session = self.message.session
            log.debug("%s: MAIL client=%s daemon=%s:%s auth=%s tls=%s", self._connection_id,
                      session.client_addr, session.daemon_name, session.daemon_port,
                      "yes" if session.authenticated else "no", session.tls.version or "none")
        except Exception:
            self._fail("envfrom")
        return Milter.CONTINUE

    @Milter.decode("surrogateescape")
    @Milter.noreply
    def envrcpt(self, to: str, *params: str) -> int:
        if self.message is not None:
            try:
                self.message.recipients.append(Recipient(
                    _strip(to), self.getsymval("{rcpt_mailer}"), self.getsymval("{rcpt_host}")))
            except Exception:
                self._fail("envrcpt")
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name: str, value: str) -> int:
        self._add_header(name, value)
        return Milter.CONTINUE

    def header_bytes(self, name: str, value: bytes) -> int:
        """What libmilter calls per header (a message has tens of them): pymilter's own
        header_bytes and the @noreply wrapper of `header` in one call. The value is decoded
        as pymilter decodes it (UTF-8, surrogateescape), and the answer is @noreply's: NOREPLY
        once Postfix agreed to expect no reply to headers, else CONTINUE."""
        self._add_header(name, value.decode("utf-8", "surrogateescape"))
        return Milter.NOREPLY if self._protocol & _HEADER_NOREPLY else Milter.CONTINUE

    @Milter.noreply
    def body(self, chunk: bytes) -> int:
        if self.message is not None and self._broken is None:
            try:
                self.message.write_body(chunk)
            except Exception:  # e.g. the spool disk is full
                self._fail("body")
        return Milter.CONTINUE

    # --- deciding ------------------------------------------------------------------------

    def eom(self) -> int:
        message = self.message
        if message is None:
            return Milter.CONTINUE
        token = None
        try:
            message.queue_id = self.getsymval("i") or None
            token = logcontext.set_tag(message.queue_label)  # every line about it says which
            if self._broken is not None:
                log.error("tempfail: could not collect the message (%s)", self._broken)
                return self._tempfail()
            return self._apply(self._handler.judge(message))
        except Exception:
            log.exception("tempfail: internal error")
            return self._tempfail()
        finally:
            if token is not None:
                logcontext.reset_tag(token)
            self._reset()

    def abort(self) -> int:
        self._reset()
        return Milter.CONTINUE

    def close(self) -> int:
        self._reset()
        return Milter.CONTINUE

    # --- helpers -------------------------------------------------------------------------

    def _apply(self, verdict: Verdict) -> int:
        for edit in verdict.edits:
            if edit.kind is EditKind.ADD:
                self.addheader(edit.name, wire_value(edit.value))
            elif edit.kind is EditKind.INSERT:
                self.addheader(edit.name, wire_value(edit.value), edit.index)  # smfi_insheader
            else:
                self.chgheader(edit.name, edit.index, None)  # no value: smfi_chgheader deletes
        if verdict.action is Action.QUARANTINE:
            self.quarantine("privacy-milter: " + (", ".join(verdict.categories) or "policy"))
            return Milter.ACCEPT
        if verdict.action in (Action.REJECT, Action.TEMPFAIL) and verdict.reply is not None:
            self.setreply(verdict.reply.code, verdict.reply.xcode, verdict.reply.text)
            return Milter.REJECT if verdict.action is Action.REJECT else Milter.TEMPFAIL
        if verdict.action is Action.REJECT:
            return Milter.REJECT
        if verdict.action is Action.TEMPFAIL:
            return Milter.TEMPFAIL
        return Milter.ACCEPT

    def _tempfail(self) -> int:
        self.setreply(*TEMPFAIL_TEXT)
        return Milter.TEMPFAIL

    def _session(self) -> Session:
        return Session(
            connection_id=self._connection_id,
            client_addr=self.getsymval("{client_addr}") or None,
            daemon_name=self.getsymval("{daemon_name}") or None,
            daemon_port=self.getsymval("{daemon_port}") or None,
            auth_authen=self.getsymval("{auth_authen}") or None,
            tls=TlsInfo(version=self.getsymval("{tls_version}") or None,
                        cipher=self.getsymval("{cipher}") or None,
                        bits=_int_or_none(self.getsymval("{cipher_bits}"))),
        )

    def _add_header(self, name: str, value: str) -> None:
        if self.message is not None and self._broken is None:
            try:
                self.message.headers.append((name, value))
            except Exception:
                self._fail("header")

    def refuse(self, reason: str) -> None:
        """Tempfail the message being collected at its end (e.g. past the connection cap)."""
        if self.message is not None and self._broken is None:
            self._broken = reason

    def _fail(self, where: str) -> None:
        self._broken = where
        log.exception("%s: error while collecting the message (%s)", self._connection_id, where)

    def _reset(self) -> None:
        if self.message is not None:
            size = self.message.body_size
            self.message.close()
            self.message = None
            memtrim.trimmer.after_message(size)  # a large message: give the freed heap back soon
        self.message = None
        self._broken = None


_HEADER_NOREPLY: int = MilterAdapter.header.milter_protocol  # P_NR_HDR, set by @noreply


def _int_or_none(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def _strip(address: str) -> str:
    return address.strip().removeprefix("<").removesuffix(">")
