"""Issue 27, offline: [quarantine] validation, the queue commands' parsing, the release safety
rule (a flagged message without its encrypt-only route stays held), the notices (who gets one,
what it says, how often), the daemon's overdue warning, the shipped systemd units.
Postfix's commands are replaced by a scripted runner here; the real ones are exercised in
tests/integration/test_quarantine_postfix.py."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.cli import _parser
from privacy_milter.errors import PolicyError
from privacy_milter.model import Action, Confidence, Direction, Finding, Result, Verdict
from privacy_milter.quarantine import events
from privacy_milter.quarantine.actions import Quarantine, QuarantineError
from privacy_milter.quarantine.notices import RateLimit, compose, notice_for
from privacy_milter.quarantine.postfix import PostfixQueue, QueueError, check_queue_id
from privacy_milter.quarantine.settings import QuarantineSettings
from privacy_milter.quarantine.watch import HoldQueueWatch, overdue
from privacy_milter.store.base import Record
from privacy_milter.store.sqlite import SqliteBackend

from tests.unit.filter_helpers import message

ROOT = Path(__file__).resolve().parents[2]
HOST = "mx1.example.net"
DAY = 86400.0


# --- [quarantine] -------------------------------------------------------------------------------

def test_defaults_keep_held_mail_two_weeks_and_tell_senders() -> None:
    q = policy_mod.parse("").quarantine
    assert (q.keep_days, q.notify_sender, q.admin, q.digest, q.notice_interval) == (14, True, "", False, 3600)


def test_bad_quarantine_settings_are_each_reported_with_their_key() -> None:
    with pytest.raises(PolicyError) as err:
        policy_mod.parse('[quarantine]\nkeep_days = 0\nadmin = "Bob <bob@x.example>"\ndigest = true\n'
                         'encrypt_transport = "a b"\npostfix_config = "etc/postfix"\nkeep_dayz = 3\n')
    text = "\n".join(err.value.problems)
    for key in ("quarantine.keep_days", "quarantine.admin", "quarantine.digest", "quarantine.encrypt_transport",
                "quarantine.postfix_config", "quarantine.keep_dayz: unknown setting"):
        assert key in text, text


def test_the_shipped_policy_toml_is_valid_and_documents_quarantine() -> None:
    text = (ROOT / "policy.toml").read_text()
    assert "[quarantine]" in text and "keep_days" in text
    assert policy_mod.parse(text).quarantine.keep_days == 14


# --- Postfix's commands ----------------------------------------------------------------------

class FakePostfix:
    """postqueue/postcat/postsuper as a dict of queue entries; records every command run."""

    def __init__(self) -> None:
        self.queue: dict[str, dict] = {}
        self.filters: dict[str, str] = {}
        self.ran: list[list[str]] = []

    def hold(self, queue_id: str, arrival: float, content_filter: str | None = None) -> None:
        self.queue[queue_id] = {"queue_name": "hold", "queue_id": queue_id, "arrival_time": int(arrival),
                                "message_size": 900, "sender": "alice@shop.example",
                                "recipients": [{"address": "bob@far.example"}]}
        if content_filter:
            self.filters[queue_id] = content_filter

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        argv = list(argv)
        self.ran.append(argv)
        tool, args = argv[0].rsplit("/", 1)[1], argv[3:]
        out, err = "", ""
        if tool == "postqueue" and args == ["-j"]:
            out = "".join(json.dumps(e) + "\n" for e in self.queue.values())
        elif tool == "postcat":
            f = self.filters.get(args[-1])
            out = "*** ENVELOPE RECORDS ***\n" + (f"content_filter: {f}\n" if f else "")
        elif tool == "postsuper" and args[0] == "-H":
            e = self.queue.get(args[1])
            if e and e["queue_name"] == "hold":
                e["queue_name"] = "deferred"
                err = f"postsuper: {args[1]}: released from hold\npostsuper: Released from hold: 1 message\n"
        elif tool == "postsuper" and args[0] == "-d":
            e = self.queue.get(args[1])
            if e and e["queue_name"] == args[2]:
                del self.queue[args[1]]
                err = f"postsuper: {args[1]}: removed\npostsuper: Deleted: 1 message\n"
        return subprocess.CompletedProcess(argv, 0, out, err)


def test_queue_ids_are_checked_before_any_command_runs() -> None:
    assert check_queue_id("3168320C7EA") == "3168320C7EA"
    for bad in ("../etc", "-d ALL", "", "A B"):
        with pytest.raises(QueueError, match="is not a Postfix queue id"):
            check_queue_id(bad)


def test_postsuper_failure_says_it_needs_root() -> None:
    def denied(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(list(argv), 1, "", "postsuper: fatal: use of this command is "
                                           "reserved for the superuser (Permission denied)\n")
    with pytest.raises(QueueError, match="needs root"):
        PostfixQueue("/etc/postfix", denied).release("3168320C7EA")


# --- actions ---------------------------------------------------------------------------------

def _record(queue_id: str, *, findings: tuple = (("iban", "high", 1),), facts: tuple = ()) -> Record:
    return Record(time=time.time(), queue_id=queue_id, direction="outbound", direction_reason="auth",
                  client_addr="192.0.2.1", sender_domain="shop.example", sender_hash="s" * 32,
                  recipients=(("far.example", "r" * 32),), size=100, tls_version="", tls_cipher="",
                  action="quarantine", findings=findings, facts=facts, errors=(), host=HOST)


def _run(tmp_path: Path, fake: FakePostfix, records: list[Record], work, now: float | None = None):  # noqa: ANN001
    async def go():  # noqa: ANN202
        backend = SqliteBackend(tmp_path / "store.db", host=HOST)
        await backend.open(None, daemon=False)
        try:
            if records:
                await backend.write_batch(records, None)
            q = Quarantine(PostfixQueue("/etc/postfix", fake), backend, QuarantineSettings(), HOST,
                           tmp_path / "quarantine.lock", clock=lambda: now or time.time())
            result = await work(q)
            return result, await events.of_queue_id(backend, "AAAA11111")
        finally:
            await backend.close()
    return asyncio.run(go())


def test_a_flagged_message_without_its_encrypt_only_route_is_not_released(tmp_path: Path) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time())  # no content_filter: it would leave in clear text
    with pytest.raises(QuarantineError, match="no encrypt-only route .* could leave in clear text"):
        _run(tmp_path, fake, [_record("AAAA11111")], lambda q: q.release("AAAA11111", "asked"))
    assert fake.queue["AAAA11111"]["queue_name"] == "hold"
    assert not any(a[0].endswith("postsuper") for a in fake.ran)


def test_a_flagged_message_routed_elsewhere_is_not_released(tmp_path: Path) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time(), "smtp:[relay.example]:25")
    with pytest.raises(QuarantineError, match="found: smtp:"):
        _run(tmp_path, fake, [_record("AAAA11111")], lambda q: q.release("AAAA11111", "asked"))


def test_a_held_message_without_a_record_is_not_released(tmp_path: Path) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time(), "privacy-encrypt:")
    with pytest.raises(QuarantineError, match="no record of why it is held"):
        _run(tmp_path, fake, [], lambda q: q.release("AAAA11111", "asked"))


def test_release_with_the_route_releases_delivers_now_and_records(tmp_path: Path) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time(), "privacy-encrypt:")
    text, evs = _run(tmp_path, fake, [_record("AAAA11111")], lambda q: q.release("AAAA11111", "  by\nphone "))
    assert "released through the encrypt-only route" in text
    assert [(e.event, e.reason, e.host) for e in evs] == [("release", "by phone", HOST)]
    assert fake.ran[-1][3:] == ["-i", "AAAA11111"]


def test_an_unflagged_held_message_needs_no_route(tmp_path: Path) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time())
    virus = _record("AAAA11111", findings=(), facts=(("virus", "Eicar-Test-Signature"),))
    text, _ = _run(tmp_path, fake, [virus], lambda q: q.release("AAAA11111", "false positive"))
    assert text == "AAAA11111: released; Postfix delivers it now"


def test_a_flagged_message_for_local_mailboxes_only_needs_no_route(tmp_path: Path) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time())
    local = _record("AAAA11111", facts=(("flagged_route", "local-only"),))
    text, _ = _run(tmp_path, fake, [local], lambda q: q.release("AAAA11111", "asked"))
    assert text.startswith("AAAA11111: released")


def test_expire_deletes_only_what_is_past_keep_days_from_the_hold_queue(tmp_path: Path) -> None:
    fake = FakePostfix()
    now = time.time()
    fake.hold("AAAA11111", now - 15 * DAY)
    fake.hold("BBBB22222", now - 13 * DAY)
    done, evs = _run(tmp_path, fake, [_record("AAAA11111")], lambda q: q.expire(), now=now)
    assert done == ["AAAA11111"] and list(fake.queue) == ["BBBB22222"]
    assert [(e.event, e.reason) for e in evs] == [("expire", "keep_days = 14")]
    assert [a[3:] for a in fake.ran if a[0].endswith("postsuper")] == [["-d", "AAAA11111", "hold"]]


def test_a_message_released_meanwhile_is_not_expired(tmp_path: Path) -> None:
    """postsuper -d ID hold: once it left the hold queue, the expiry cannot touch it."""
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time() - 15 * DAY)
    real = fake.__call__

    def racing(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        if argv[0].endswith("postsuper") and argv[3] == "-d":
            fake.queue["AAAA11111"]["queue_name"] = "deferred"  # the admin released it just now
        return real(argv)
    done, evs = _run(tmp_path, fake, [], lambda q: Quarantine(
        PostfixQueue("/etc/postfix", racing), q.backend, q.settings, HOST, q.lock_path).expire())
    assert done == [] and "AAAA11111" in fake.queue and evs == []


# --- notices -------------------------------------------------------------------------------

def _held_verdict() -> Verdict:
    f = Finding("iban", Confidence.HIGH, 1, rules=("iban.checksum_context",))
    return Verdict(Action.QUARANTINE, (Result("dlp", action=Action.QUARANTINE, findings=(f,)),))


def _hosted(d: str) -> bool:
    return d == "shop.example"


def test_only_our_own_customers_outbound_mail_gets_a_notice() -> None:
    v, now = _held_verdict(), time.time()
    assert notice_for(message(), v, _hosted, now, 14) is not None
    assert notice_for(message(Direction.INBOUND, sender="eve@far.example"), v, _hosted, now, 14) is None
    assert notice_for(message(Direction.INBOUND), v, _hosted, now, 14) is None  # forged as ours: still inbound
    assert notice_for(message(sender=""), v, _hosted, now, 14) is None          # null sender
    assert notice_for(message(sender="x@elsewhere.example"), v, _hosted, now, 14) is None
    undecided = message()
    undecided.decision = None
    assert notice_for(undecided, v, _hosted, now, 14) is None


def test_the_notice_says_what_kind_when_and_who_but_never_a_value() -> None:
    m = message()
    m.queue_id = "AAAA11111"
    n = notice_for(m, _held_verdict(), _hosted, 1796600000.0, 14)
    assert n is not None
    mail = compose(n, from_address="postmaster@mx1.example.net", contact="help@example.net", more=2)
    text = mail.get_content()
    assert "a bank account number (IBAN)" in text and "NOT sent" in text
    assert "deleted on 2026-12-20 23:33 UTC" in text and "help@example.net" in text and "AAAA11111" in text
    assert "2 more of your messages" in text
    assert mail["Auto-Submitted"] == "auto-generated" and mail["To"] == "alice@shop.example"


def test_one_notice_per_sender_per_interval_the_rest_summarised() -> None:
    limit = RateLimit(3600)
    assert limit.admit("a@shop.example", 0) == 0
    assert limit.admit("A@shop.example", 10) is None and limit.admit("a@shop.example", 20) is None
    assert limit.admit("b@shop.example", 30) == 0
    assert limit.due(100) == []
    assert limit.due(3700) == [("a@shop.example", 2)]
    assert limit.due(3800) == []


# --- the daemon's warning --------------------------------------------------------------------

def test_overdue_is_past_keep_days_plus_one_day() -> None:
    fake = FakePostfix()
    now = time.time()
    fake.hold("AAAA11111", now - 15.5 * DAY)
    fake.hold("BBBB22222", now - 14.5 * DAY)
    from privacy_milter.quarantine.held import join
    held = join(PostfixQueue("/x", fake).held(), {}, HOST, now, 14)
    assert [h.queue_id for h in overdue(held, 14, now)] == ["AAAA11111"]


def test_the_daemon_warns_when_the_expiry_timer_is_not_running(caplog: pytest.LogCaptureFixture) -> None:
    fake = FakePostfix()
    fake.hold("AAAA11111", time.time() - 16 * DAY)

    class Store:
        backend = None

    policy = policy_mod.Overrides(host_name=HOST).apply(policy_mod.parse(""))
    watch = HoldQueueWatch(policy, Store(), PostfixQueue("/x", fake))
    with caplog.at_level(logging.WARNING, "privacy_milter.quarantine"):
        assert asyncio.run(watch.check()) == 1
    assert "privacy-milter-quarantine-expire.timer running" in caplog.text and "AAAA11111" in caplog.text
    fake.queue.clear()
    caplog.clear()
    assert asyncio.run(watch.check()) == 0 and caplog.text == ""


# --- deploy ----------------------------------------------------------------------------------

def test_the_expiry_unit_runs_a_command_the_cli_accepts_daily() -> None:
    unit = (ROOT / "deploy/systemd/privacy-milter-quarantine-expire.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = exec_start.split("=", 1)[1].split()
    assert argv[0].endswith("/privacy-milter") and "User=" not in unit  # root: postsuper is root only
    args = _parser().parse_args(argv[1:])
    assert args.handler.__name__ == "_expire"
    timer = (ROOT / "deploy/systemd/privacy-milter-quarantine-expire.timer").read_text()
    assert "OnCalendar=*-*-* " in timer and "Persistent=true" in timer


# --- the weekly summary's section ------------------------------------------------------------

def test_the_summary_section_shows_the_figures_and_warns_about_overdue_mail() -> None:
    import dataclasses

    from privacy_milter.summary.quarantine import QuarantineWeek
    from privacy_milter.summary.sections import sections
    from tests.unit.summary.summary_helpers import synthetic

    def section(q: QuarantineWeek):  # noqa: ANN202
        return next(s for s in sections(dataclasses.replace(synthetic(), quarantine=q)) if s.key == "quarantine")

    s = section(QuarantineWeek(held=5, released=2, deleted=1, expired=1, notices=3, held_now=2,
                               oldest_days=16.2, keep_days=14))
    rows = dict(s.tables[0].rows)
    assert (rows["Held this week"], rows["Released"], rows["Deleted"], rows["Expired (past keep_days)"],
            rows["Held now"], rows["Oldest held message"]) == ("5", "2", "1", "1", "2", "16.2 days")
    assert "expire timer running" in s.notes[0]
    unknown = dict(section(QuarantineWeek()).tables[0].rows)
    assert unknown["Held now"].startswith("unknown") and unknown["Oldest held message"] == "-"


def test_the_held_back_notices_are_summarised_once_the_interval_is_over() -> None:
    from email.message import EmailMessage

    from privacy_milter.quarantine.notices import Notifier

    sent: list[tuple[EmailMessage, str, list[str]]] = []

    async def send(m: EmailMessage, sender: str, rcpts: list[str]) -> str:
        sent.append((m, sender, rcpts))
        return "ok"

    async def go() -> int:
        notifier = Notifier(asyncio.get_running_loop(), send, interval=3600, from_address="postmaster@mx1.example.net",
                            contact="help@example.net")
        notifier.limit.admit("a@shop.example", 0)
        notifier.limit.admit("a@shop.example", 10)
        notifier.limit.admit("a@shop.example", 20)
        return await notifier.flush_due(3700)
    assert asyncio.run(go()) == 1
    (mail, sender, rcpts), = sent
    assert sender == "" and rcpts == ["a@shop.example"] and mail["Subject"].startswith("2 more of your messages")


def test_the_admin_digest_lists_held_mail_without_content() -> None:
    from email.message import EmailMessage

    fake = FakePostfix()
    fake.hold("AAAA11111", time.time() - 2 * DAY)
    sent: list[tuple[EmailMessage, str, list[str]]] = []

    async def send(m: EmailMessage, sender: str, rcpts: list[str]) -> None:
        sent.append((m, sender, rcpts))

    class Store:
        backend = None

    policy = policy_mod.Overrides(host_name=HOST).apply(policy_mod.parse(
        '[quarantine]\nadmin = "postmaster@example.net"\ndigest = true\n'))
    asyncio.run(HoldQueueWatch(policy, Store(), PostfixQueue("/x", fake)).digest(send))
    (mail, sender, rcpts), = sent
    text = mail.get_content()
    assert rcpts == ["postmaster@example.net"] and "1 message(s) held" in mail["Subject"]
    assert "AAAA11111" in text and "shop.example -> far.example" in text and "alice@" not in text
