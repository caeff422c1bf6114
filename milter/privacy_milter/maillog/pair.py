"""Pair the smtp client's TLS lines with its delivery lines, per process, as Postfix writes them.

One smtp process delivers one message at a time, over one session at a time, and logs in
order: optional certificate-failure lines, the `... TLS connection established to HOST[IP]:25`
summary, then one `to=<...>, relay=HOST[IP]:25` line per recipient of that message. So a TLS
line applies to the deliveries that follow on the same process while they name the same relay
and the same queue id. A delivery to another relay, or of another message (a cached plain
connection, `conn_use=2`), had no TLS of its own: it is clear text. Postfix caches TLS
connections only through tlsproxy, and then logs `... TLS connection reused`, which the
parser reads like `established`.

Failure reasons count only for deliveries that were not sent: an opportunistic session with
an untrusted certificate still delivered the mail encrypted.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .parse import DeliveryLine, Event, TlsEstablished, TlsFailure, TlsLevel, VALIDATION_FAILURE, relay_host

MAX_PROCESSES = 1024      # sessions remembered at once; Postfix's default_process_limit is 100

VERIFIED = "verified"
ENCRYPTED = "encrypted"
CLEAR = "clear"
UNKNOWN_POLICY = "unknown"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery attempt's metadata: domains, relay host, TLS facts, codes. No address."""
    time: datetime
    queue_id: str
    rcpt_domain: str
    relay: str                 # relay host name, without address or port
    tls_level: str             # verified | encrypted | clear
    tls_version: str | None    # e.g. TLSv1.3; None when clear
    policy: str                # dane | mta-sts | pin | opportunistic | ... (from policy_for)
    status: str                # sent | deferred | bounced | expired
    dsn: str                   # enhanced status code, e.g. 4.7.5
    reason: str | None         # TLS-RPT result type when the delivery failed for TLS
    host: str = ""             # the mail host that logged it (for the per-host line)


@dataclass(slots=True)
class _Session:
    relay: str | None = None           # the relay the TLS line (or failure line) names
    level: TlsLevel | None = None
    version: str | None = None
    queue_id: str | None = None        # the message this session carries, once seen
    failure: str | None = None         # first failure reason logged for this relay


def _unknown(domain: str) -> str:
    return UNKNOWN_POLICY


class Pairer:
    def __init__(self, policy_for: Callable[[str], str] | None = None) -> None:
        self._policy_for = policy_for or _unknown
        self._sessions: OrderedDict[str, _Session] = OrderedDict()

    def feed(self, event: Event) -> Delivery | None:
        key = f"{event.host} {event.prog}[{event.pid}]"
        if isinstance(event, TlsFailure):
            s = self._sessions.get(key)
            if s is None or s.level is not None or s.relay != event.relay:
                s = _Session(relay=event.relay)        # a new session is starting
            if s.failure is None:
                s.failure = event.reason
            self._put(key, s)
            return None
        if isinstance(event, TlsEstablished):
            s = self._sessions.get(key)
            failure = s.failure if s is not None and s.level is None and s.relay == event.relay else None
            self._put(key, _Session(event.relay, event.level, event.version, None, failure))
            return None
        return self._delivery(key, event)

    def _delivery(self, key: str, d: DeliveryLine) -> Delivery:
        s = self._sessions.get(key)
        same = s is not None and s.relay == d.relay and s.queue_id in (None, d.queue_id)
        if s is not None and same:
            s.queue_id = d.queue_id
        elif s is not None:
            del self._sessions[key]
            s = None
        level, version = CLEAR, None
        if s is not None and s.level is not None:
            level = VERIFIED if s.level is TlsLevel.VERIFIED else ENCRYPTED
            version = s.version
        reason = None
        if d.status != "sent":
            reason = d.reason
            if s is not None and s.failure and reason in (None, VALIDATION_FAILURE):
                reason = s.failure
        try:
            policy = self._policy_for(d.rcpt_domain)
        except Exception:      # the policy service is advisory here: a lookup never loses a row
            policy = UNKNOWN_POLICY
        return Delivery(d.time, d.queue_id, d.rcpt_domain, relay_host(d.relay), level, version,
                        policy, d.status, d.dsn, reason, d.host)

    def _put(self, key: str, s: _Session) -> None:
        self._sessions[key] = s
        self._sessions.move_to_end(key)
        while len(self._sessions) > MAX_PROCESSES:
            self._sessions.popitem(last=False)

    # the open sessions survive a restart through the follower's saved state
    def snapshot(self) -> dict[str, Any]:
        return {k: [s.relay, s.level.value if s.level else None, s.version, s.queue_id, s.failure]
                for k, s in self._sessions.items()}

    def restore(self, state: dict[str, Any]) -> None:
        self._sessions.clear()
        for key, row in list(state.items())[-MAX_PROCESSES:]:
            try:
                relay, level, version, qid, failure = row
                self._sessions[str(key)] = _Session(
                    relay, TlsLevel(level) if level else None, version, qid, failure)
            except (TypeError, ValueError):
                continue       # a damaged entry costs one session's TLS facts, nothing more
