"""Load through Postfix for fault tests and benchmarks: messages with a unique Message-ID,
clients that retry tempfails, and the accounting at the end (delivered once? recorded once?).

    gen = Load(postfix.smtpd_port)
    threads = gen.smtp_clients(clients=4, count=200)      # each message retried until accepted
    ... kill or stop the daemon, restart it ...
    gen.join(threads)
    report = account(gen, sink, postfix.maillog(), store_path)

The sink is counted by Message-ID (each client message has its own); the store by the queue
ids of the deliveries Postfix logged (`QID: to=<...> ... status=sent`), mapped to a
Message-ID by cleanup's `QID: message-id=<...>` line, so mail submitted with the sendmail
command is covered as well.
"""

from __future__ import annotations

import re
import smtplib
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from .postfix import PostfixError, PostfixInstance
from .sink import Sink

SENDER = "alice@shop.example"
RCPT = "bob@far.example"
RETRY_DELAY = 0.2      # seconds between tries of one message
MAX_TRIES = 200        # per message: a bound, never reached while the daemon comes back


def message(mid: str, size: int = 0) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = SENDER, RCPT, f"load {mid}"
    m["Message-ID"] = f"<{mid}@load.test>"
    body = f"message {mid}\n"
    if size > len(body):
        line = "the quick brown fox jumps over the lazy dog 0123456789\n"
        body += line * ((size - len(body)) // len(line) + 1)
    m.set_content(body)
    return m.as_bytes()


@dataclass
class Load:
    port: int
    tag: str = "m"
    sizes: tuple[int, ...] = (0,)
    tries: int = 0                                     # SMTP transactions attempted
    tempfails: int = 0                                 # of them, answered 4xx or cut
    given_up: list[str] = field(default_factory=list)  # Message-IDs never accepted
    accepted: dict[str, tuple[str, float]] = field(default_factory=dict)  # mid -> (queue id, when)
    submitted: dict[str, float] = field(default_factory=dict)  # sendmail: mid -> when
    sendmail_failures: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def expected(self) -> set[str]:
        with self._lock:
            return set(self.accepted) | set(self.submitted) | set(self.given_up)

    def send_one(self, mid: str, size: int = 0) -> bool:
        """Send until accepted (250 to DATA) or MAX_TRIES; a 4xx or a cut connection is retried."""
        raw = message(mid, size)
        for _ in range(MAX_TRIES):
            with self._lock:
                self.tries += 1
            try:
                with smtplib.SMTP("127.0.0.1", self.port, timeout=120) as client:
                    client.ehlo("client.test")
                    code, text = client.mail(SENDER)
                    if code == 250:
                        code, text = client.rcpt(RCPT)
                    if code == 250:
                        code, text = client.data(raw)
                    if code == 250:
                        with self._lock:
                            self.accepted[mid] = (text.decode().rsplit(" ", 1)[-1], time.time())
                        return True
                    if code < 400 or code >= 500:
                        raise AssertionError(f"{mid}: permanent answer {code} {text!r}")
            except (smtplib.SMTPException, OSError):
                pass
            with self._lock:
                self.tempfails += 1
            time.sleep(RETRY_DELAY)
        with self._lock:
            self.given_up.append(mid)
        return False

    def _client(self, n: int, count: int) -> None:
        for i in range(count):
            self.send_one(f"{self.tag}-c{n}-{i}", self.sizes[i % len(self.sizes)])

    def smtp_clients(self, clients: int, count: int) -> list[threading.Thread]:
        """`clients` threads sending `count` messages each, one after the other."""
        threads = [threading.Thread(target=self._client, args=(n, count), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        return threads

    def sendmail_client(self, postfix: PostfixInstance, count: int, pause: float = 0.05) -> threading.Thread:
        """`count` messages through the sendmail command (pickup: non_smtpd_milters)."""
        def run() -> None:
            for i in range(count):
                mid = f"{self.tag}-s-{i}"
                try:
                    postfix.sendmail(message(mid), SENDER, [RCPT])
                    with self._lock:
                        self.submitted[mid] = time.time()
                except PostfixError:
                    with self._lock:
                        self.sendmail_failures += 1
                time.sleep(pause)
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t

    def answered(self) -> int:
        with self._lock:
            return len(self.accepted)

    @staticmethod
    def join(threads: list[threading.Thread], timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in threads if t.is_alive()]
        assert not alive, f"{len(alive)} load threads still running after {timeout}s"


DELIVERED = re.compile(r"\b([0-9A-Za-z]+): to=<[^>]*>, relay=127\.0\.0\.1\[[^]]*\]:\d+,.* status=sent")
MESSAGE_ID = re.compile(r"\b([0-9A-Za-z]+): message-id=<([^>]*)>")


def mid_of(raw: bytes) -> str | None:
    m = re.search(rb"^Message-ID: <([^>]*)@load\.test>", raw, re.M | re.I)
    return m.group(1).decode() if m else None


def wait_delivered(load: Load, sink: Sink, postfix: PostfixInstance, timeout: float = 180.0) -> None:
    """Flush Postfix (deferred mail and the maildrop) until every expected Message-ID is at the sink."""
    deadline = time.monotonic() + timeout
    want = {m for m in load.expected}
    last_flush = 0.0
    while time.monotonic() < deadline:
        got = {mid_of(m.raw) for m in sink.messages}
        if want <= got:
            return
        if time.monotonic() - last_flush > 5:
            postfix.flush()
            last_flush = time.monotonic()
        time.sleep(0.2)


@dataclass
class Report:
    expected: int
    tries: int
    tempfails: int
    delivered: int        # distinct expected Message-IDs at the sink
    duplicates: int       # deliveries beyond the first, per Message-ID
    lost: int             # expected and never delivered
    delivered_qids: int   # Postfix deliveries logged (status=sent)
    records: int          # store records of those queue ids
    unrecorded: list[str]  # delivered queue ids with no record
    twice_recorded: list[str]
    sendmail_failures: int

    def line(self) -> str:
        return (f"messages {self.expected}, tries {self.tries} ({self.tempfails} tempfailed or cut), "
                f"delivered {self.delivered}, duplicates {self.duplicates}, lost {self.lost}, "
                f"records {self.records} of {self.delivered_qids} deliveries "
                f"({len(self.unrecorded)} missing, {len(self.twice_recorded)} twice)")


def account(load: Load, sink: Sink, maillog: str, store_path: Path) -> Report:
    expected = load.expected
    counts: dict[str, int] = {}
    for m in sink.messages:
        mid = mid_of(m.raw)
        if mid is not None:
            counts[mid] = counts.get(mid, 0) + 1
    qid_mid = {q: mid.split("@", 1)[0] for q, mid in MESSAGE_ID.findall(maillog)}
    delivered_qids = {q for q in DELIVERED.findall(maillog) if qid_mid.get(q) in expected}
    with sqlite3.connect(f"file:{store_path}?mode=ro", uri=True) as db:
        rows = [r[0] for r in db.execute("SELECT queue_id FROM messages")]
    per_qid: dict[str, int] = {}
    for q in rows:
        per_qid[q] = per_qid.get(q, 0) + 1
    return Report(
        expected=len(expected), tries=load.tries, tempfails=load.tempfails,
        delivered=sum(1 for m in expected if counts.get(m)),
        duplicates=sum(c - 1 for m, c in counts.items() if m in expected and c > 1),
        lost=sum(1 for m in expected if not counts.get(m)),
        delivered_qids=len(delivered_qids),
        records=sum(per_qid.get(q, 0) for q in delivered_qids),
        unrecorded=sorted(q for q in delivered_qids if q not in per_qid),
        twice_recorded=sorted(q for q in delivered_qids if per_qid.get(q, 0) > 1),
        sendmail_failures=load.sendmail_failures,
    )


def queue_id_times(load: Load) -> dict[str, float]:
    """Queue id -> when the SMTP client had its 250 (sendmail submissions have no queue id here)."""
    with load._lock:
        return {q: t for q, t in load.accepted.values()}


_SYSLOG_TIME = re.compile(r"^(\w{3}\s+\d+ \d\d:\d\d:\d\d)\S* \S+ postfix\S*: ([0-9A-Za-z]+): ", re.M)


def answer_times(load: Load, maillog: str) -> dict[str, float]:
    """Queue id -> when it was accepted: the client's clock for SMTP, else the maillog's
    first line for that queue id (whole seconds: callers widen their windows by 1 s)."""
    times: dict[str, float] = {}
    year = time.localtime().tm_year
    for stamp, qid in _SYSLOG_TIME.findall(maillog):
        if qid not in times:
            try:
                times[qid] = time.mktime(time.strptime(f"{year} {stamp}", "%Y %b %d %H:%M:%S"))
            except ValueError:
                continue
    times.update(queue_id_times(load))
    return times
