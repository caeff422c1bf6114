"""The schema as numbered migrations, one list for every SQL backend, and the shared queries.

Each migration is applied once, in order, at open, and its number recorded in
`schema_version`; a database newer than this code is refused. Column types differ per
dialect only through the names in braces ({id}, {float}, {bigint}); statements use `?`
placeholders (the PostgreSQL backend turns them into `%s`). Migration 1 is the schema from
before versions existed (IF NOT EXISTS), so an existing SQLite store upgrades in place.
"""

from __future__ import annotations

import hashlib
import hmac

SQLITE_TYPES = {"id": "INTEGER PRIMARY KEY", "float": "REAL", "bigint": "INTEGER"}
POSTGRES_TYPES = {"id": "BIGSERIAL PRIMARY KEY", "float": "DOUBLE PRECISION", "bigint": "BIGINT"}

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (  # 1: the records (the schema before versions)
        """CREATE TABLE IF NOT EXISTS messages (
            id {id}, time {float} NOT NULL, queue_id TEXT NOT NULL, direction TEXT NOT NULL,
            direction_reason TEXT NOT NULL, client_addr TEXT NOT NULL, sender_domain TEXT NOT NULL,
            sender_hash TEXT NOT NULL, size {bigint} NOT NULL, tls_version TEXT NOT NULL,
            tls_cipher TEXT NOT NULL, action TEXT NOT NULL, findings TEXT NOT NULL, facts TEXT NOT NULL,
            errors TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS messages_time ON messages(time)",
        "CREATE INDEX IF NOT EXISTS messages_sender ON messages(sender_hash)",
        """CREATE TABLE IF NOT EXISTS recipients (
            message_id {bigint} NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            domain TEXT NOT NULL, address_hash TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS recipients_message ON recipients(message_id)",
        "CREATE INDEX IF NOT EXISTS recipients_hash ON recipients(address_hash)",
    ),
    (  # 2: several hosts: the host of every record, health per host, runs of periodic jobs, key check
        "ALTER TABLE messages ADD COLUMN host TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX IF NOT EXISTS messages_host_time ON messages(host, time)",
        "DROP TABLE IF EXISTS store_health",  # only ever the running daemon's counters
        """CREATE TABLE store_health (
            host TEXT PRIMARY KEY, updated {float} NOT NULL, pid {bigint} NOT NULL,
            pending {bigint} NOT NULL, written {bigint} NOT NULL, dropped {bigint} NOT NULL,
            last_write {float}, failing_since {float}, last_error TEXT NOT NULL, last_error_time {float})""",
        """CREATE TABLE job_runs (
            job TEXT NOT NULL, period TEXT NOT NULL, host TEXT NOT NULL, claimed {float} NOT NULL,
            done {float}, PRIMARY KEY (job, period))""",
        "CREATE TABLE store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (  # 3: the weekly summary's own data: outbound deliveries read from Postfix's log (the
       # recipient's domain only, the reply's status code and a TLS-RPT reason, never its text)
       # and the log reader's poll counts
        """CREATE TABLE IF NOT EXISTS deliveries (
            time {float} NOT NULL, queue_id TEXT NOT NULL, rcpt_domain TEXT NOT NULL, relay TEXT NOT NULL,
            tls_level TEXT NOT NULL, tls_version TEXT NOT NULL, policy TEXT NOT NULL, status TEXT NOT NULL,
            dsn TEXT NOT NULL, reason TEXT NOT NULL, host TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS deliveries_time ON deliveries(time)",
        "CREATE INDEX IF NOT EXISTS deliveries_queue ON deliveries(queue_id)",
        """CREATE TABLE IF NOT EXISTS maillog_polls (
            time {float} NOT NULL, lines {bigint} NOT NULL, unparsed {bigint} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS maillog_polls_time ON maillog_polls(time)",
    ),
    (  # 4: what the daemon itself went through, for the summary's health and retention lines:
       # kind is start, reload_ok, reload_refused, purge (count: records removed), store_failure
        """CREATE TABLE IF NOT EXISTS events (
            time {float} NOT NULL, host TEXT NOT NULL, kind TEXT NOT NULL, count {bigint} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS events_time ON events(time)",
    ),
    (  # 5: the quarantine's lifecycle (issue 27): each release, deletion, expiry and sender
       # notice of a held message, by queue id; `reason` is what the admin typed (or
       # "keep_days", "subject request", "notice"), never anything from the message
        """CREATE TABLE IF NOT EXISTS quarantine_events (
            time {float} NOT NULL, host TEXT NOT NULL, queue_id TEXT NOT NULL, event TEXT NOT NULL,
            reason TEXT NOT NULL, held_since {float} NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS quarantine_events_time ON quarantine_events(time)",
        "CREATE INDEX IF NOT EXISTS quarantine_events_queue ON quarantine_events(queue_id)",
        # `quarantine list` finds each held message's record by queue id: without it, a scan of
        # every record per held message (1,000 held among 21,000 records: 9.8 s; with it 0.23 s)
        "CREATE INDEX IF NOT EXISTS messages_queue ON messages(queue_id)",
    ),
    (  # 6: what receivers report back (issue 28): TLS-RPT per policy and DMARC per record,
       # aggregate metadata only (store/reports.py). `authenticated` 0 keeps unverified
       # reporters apart; DMARC source_ip is the sending mail server's, with its count.
        """CREATE TABLE IF NOT EXISTS report_tls (
            time {float} NOT NULL, host TEXT NOT NULL, reporter TEXT NOT NULL, report_id TEXT NOT NULL,
            authenticated {bigint} NOT NULL, begin_time {float} NOT NULL, end_time {float} NOT NULL,
            policy_type TEXT NOT NULL, policy_domain TEXT NOT NULL, successful {bigint} NOT NULL,
            failed {bigint} NOT NULL, failures TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS report_tls_time ON report_tls(time)",
        "CREATE INDEX IF NOT EXISTS report_tls_id ON report_tls(reporter, report_id)",
        """CREATE TABLE IF NOT EXISTS report_dmarc (
            time {float} NOT NULL, host TEXT NOT NULL, reporter TEXT NOT NULL, report_id TEXT NOT NULL,
            authenticated {bigint} NOT NULL, begin_time {float} NOT NULL, end_time {float} NOT NULL,
            policy_domain TEXT NOT NULL, policy TEXT NOT NULL, source_ip TEXT NOT NULL,
            header_from TEXT NOT NULL, count {bigint} NOT NULL, dkim TEXT NOT NULL, spf TEXT NOT NULL,
            disposition TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS report_dmarc_time ON report_dmarc(time)",
        "CREATE INDEX IF NOT EXISTS report_dmarc_id ON report_dmarc(reporter, report_id)",
    ),
)

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version {bigint} PRIMARY KEY, applied {float} NOT NULL)"
CURRENT_VERSION = "SELECT COALESCE(MAX(version), 0) FROM schema_version"
RECORD_VERSION = "INSERT INTO schema_version (version, applied) VALUES (?, ?)"


def statements(version: int, types: dict[str, str]) -> list[str]:
    return [s.format(**types) for s in MIGRATIONS[version - 1]]


MESSAGE_COLUMNS = ("time", "host", "queue_id", "direction", "direction_reason", "client_addr", "sender_domain",
                   "sender_hash", "size", "tls_version", "tls_cipher", "action", "findings", "facts", "errors")
INSERT_MESSAGE = (f"INSERT INTO messages (id, {', '.join(MESSAGE_COLUMNS)}) "
                  f"VALUES (?, {', '.join('?' * len(MESSAGE_COLUMNS))})")
INSERT_RECIPIENT = "INSERT INTO recipients (message_id, domain, address_hash) VALUES (?, ?, ?)"
PURGE = "DELETE FROM messages WHERE time < ?"
# The retention window covers the summary's rows too.
PURGE_ALSO = ("DELETE FROM deliveries WHERE time < ?", "DELETE FROM maillog_polls WHERE time < ?",
              "DELETE FROM events WHERE time < ?", "DELETE FROM quarantine_events WHERE time < ?",
              "DELETE FROM report_tls WHERE time < ?", "DELETE FROM report_dmarc WHERE time < ?")
RECORD_EVENT = "INSERT INTO events (time, host, kind, count) VALUES (?, ?, ?, ?)"
_INVOLVES = "sender_hash = ? OR id IN (SELECT message_id FROM recipients WHERE address_hash = ?)"
FIND = f"SELECT id, {', '.join(MESSAGE_COLUMNS)} FROM messages WHERE {_INVOLVES} ORDER BY time, id"
FIND_RECIPIENTS = "SELECT domain, address_hash FROM recipients WHERE message_id = ? ORDER BY domain, address_hash"
FORGET = f"DELETE FROM messages WHERE {_INVOLVES}"

HEALTH_COLUMNS = ("updated", "pid", "pending", "written", "dropped", "last_write", "failing_since",
                  "last_error", "last_error_time", "host")
UPSERT_HEALTH = (f"INSERT INTO store_health ({', '.join(HEALTH_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(HEALTH_COLUMNS))}) ON CONFLICT (host) DO UPDATE SET "
                 + ", ".join(f"{c} = excluded.{c}" for c in HEALTH_COLUMNS if c != "host"))
SELECT_HEALTH = f"SELECT {', '.join(HEALTH_COLUMNS)} FROM store_health WHERE host = ?"

LAST_RUN = "SELECT period FROM job_runs WHERE job = ? AND done IS NOT NULL ORDER BY done DESC, period DESC LIMIT 1"
RECORD_RUN = ("INSERT INTO job_runs (job, period, host, claimed, done) VALUES (?, ?, ?, ?, ?) "
              "ON CONFLICT (job, period) DO UPDATE SET done = excluded.done")
# A period is claimed once: by the first host, or again by the same host (a retry after a
# restart), or by another host when a claim is over an hour old and was never done (the
# claimant died mid-job). rowcount 1 means the caller holds the claim.
CLAIM_RUN = ("INSERT INTO job_runs (job, period, host, claimed) VALUES (?, ?, ?, ?) "
             "ON CONFLICT (job, period) DO UPDATE SET host = excluded.host, claimed = excluded.claimed "
             "WHERE job_runs.done IS NULL AND (job_runs.host = excluded.host "
             "OR job_runs.claimed < excluded.claimed - 3600)")

KEY_NAME = "address_key_fingerprint"
GET_META = "SELECT value FROM store_meta WHERE name = ?"
PUT_META = "INSERT INTO store_meta (name, value) VALUES (?, ?) ON CONFLICT DO NOTHING"


def stats_queries(where: str) -> dict[str, str]:
    return {
        "totals": f"SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages {where}",
        **{c: f"SELECT {c}, COUNT(*) FROM messages {where} GROUP BY {c}"
           for c in ("direction", "action", "tls_version", "host")},
        "findings": f"SELECT findings FROM messages {where}",
    }


def key_fingerprint(key: bytes) -> str:
    """Names the address key without revealing it: an HMAC of a constant under the key."""
    return hmac.new(key, b"privacy-milter address key fingerprint v1", hashlib.sha256).hexdigest()[:32]


def mismatch_text(where: str) -> str:
    return (f"the address hash key (key_file) is not the key the store {where} was created with: "
            "subject-access requests would silently miss records. Copy the same key_file to every "
            "host that writes to this store (docs/DEPLOY.md, \"Several servers\")")
