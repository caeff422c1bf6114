"""The maillog job: recorded Postfix lines become delivery rows; a second poll adds nothing."""

from __future__ import annotations

from pathlib import Path

import aiosqlite

from privacy_milter import policy as policy_mod
from privacy_milter.summary.job import MaillogPoll, summary_jobs

DATA = Path(__file__).resolve().parents[1] / "maillog" / "data" / "postfix37-maillog_file.log"


async def test_poll_writes_deliveries_and_counts_once(tmp_path):
    log = tmp_path / "mail.log"
    log.write_bytes(DATA.read_bytes() + b"\x00garbage line\n")
    store = tmp_path / "m.db"
    p = policy_mod.parse(f'[store]\npath = "{store}"\n[summary]\nmaillog = "{log}"\n'
                         f'maillog_state = "{tmp_path / "pos"}"\n')
    (job,) = summary_jobs(p)             # not enabled (no recipient): only the reader
    assert job.name == "maillog" and job.at_start
    poll = job.run
    assert isinstance(poll, MaillogPoll)
    poll.follower._from_start = True     # this test reads the recorded log from its start
    n = await poll()
    assert n > 0 and await poll() == 0
    async with aiosqlite.connect(store) as db:
        async with db.execute("SELECT COUNT(*), SUM(CASE WHEN rcpt_domain LIKE '%@%' THEN 1 ELSE 0 END) "
                              "FROM deliveries") as cur:
            assert tuple(await cur.fetchone()) == (n, 0)
        async with db.execute("SELECT SUM(unparsed) FROM maillog_polls") as cur:
            assert (await cur.fetchone())[0] >= 1
    assert (tmp_path / "pos").exists()
