"""The seeded week, sent through SmtpSender to an aiosmtpd sink: figures in both parts, and
no address or local part anywhere in the email but the admin From/To."""

from __future__ import annotations

import re
import sys
from datetime import datetime
from email import message_from_bytes, policy as email_policy
from pathlib import Path

import aiosqlite

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "summary"))
from summary_seed import LOCAL_PARTS, TZ, WEEK, dlv, seed, t  # type: ignore[import-not-found]  # noqa: E402

from privacy_milter.services import SmtpSender  # noqa: E402
from privacy_milter.summary.compose import compose  # noqa: E402
from privacy_milter.summary.deliveries_schema import insert_deliveries  # noqa: E402
from privacy_milter.summary.queries import SqliteQuery, build_report  # noqa: E402
from tests.harness.sink import Sink  # noqa: E402

ADMIN, FROM = "postmaster@hosting.example", "privacy-milter@mx1.hosting.example"


def _norm(text: str) -> str:
    return " ".join(text.split())


async def test_the_seeded_summary_arrives_with_every_figure_and_no_address(tmp_path):
    store = tmp_path / "m.db"
    await seed(store)
    async with aiosqlite.connect(store) as db:
        # an address planted where a domain goes, and a local part as a relay name
        await insert_deliveries(db, [dlv(t(2026, 11, 26), "Q9", f"{LOCAL_PARTS[0]}@leaky.example",
                                         "clear", None, "opportunistic")])
        await db.execute("UPDATE deliveries SET relay = ? WHERE queue_id = 'Q9'", (LOCAL_PARTS[1],))
        await db.commit()
        report = await build_report(SqliteQuery(db), WEEK, TZ, top_n=10, retention_days=60)
    msg = compose(report, FROM, [ADMIN], datetime(2026, 11, 30, 7, tzinfo=TZ))
    with Sink() as sink:
        await SmtpSender("127.0.0.1", sink.port, timeout=10.0, helo="test.invalid").send(msg, FROM, [ADMIN])
        (got,) = sink.wait_for(1)
    assert got.rcpt_tos == (ADMIN,) and got.mail_from == FROM
    parsed = message_from_bytes(got.raw, policy=email_policy.default)
    assert parsed["Subject"] == "Mail privacy summary, week 48 2026: 19 messages, 70.6% encrypted"
    text = _norm(parsed.get_body(("plain",)).get_content())
    html = _norm(parsed.get_body(("html",)).get_content())
    for part in (text, html):
        for figure in ("19 messages, 70.6% encrypted", "plain.example", "old.example",
                       "certificate-expired", "starttls-not-supported", "TLSv1.3", "TLSv1.2",
                       "opportunistic", "mta-sts", "iban", "nino", "shop.example", "clinic.example",
                       "leaky.example", "virus", "60 days"):
            assert figure in part, (figure, part[:400])
    # headline: 10 in (+150.0%), 9 out (+350.0%), 90.0% in, 3/7 out, 4 stopped (+300.0%)
    assert "Messages in 10 +150.0%" in text and "Messages out 9 +350.0%" in text
    assert "Encrypted in 90.0% +40.0 pt" in text and "Encrypted out 42.9% -7.1 pt" in text
    assert "Sensitive-data findings stopped 4 +300.0%" in text
    assert "refused because the recipient could not do TLS: 1; held: 1" in text
    assert "Scanner errors: 1" in text and "Log lines the reader could not parse 3" in text
    assert "shop.example 8 7 87.5% 60.0% 3 0 1" in text
    assert "clinic.example 2 2 100.0% 0.0% 1 2 0" in text
    for num in ("150.0%", "87.5%", "60.0%", "+40.0 pt"):
        assert num in html
    # privacy: only the admin addresses, and no planted local part, anywhere in the raw mail
    raw = got.raw.decode("utf-8", "replace")
    addresses = set(re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", raw))
    machine = {a for a in addresses if a.endswith("@summary.invalid")                # chart cids
               or re.fullmatch(r"[\d.]+\.summary@mx1\.hosting\.example", a)}      # Message-ID
    assert addresses - machine == {ADMIN, FROM}
    for local in LOCAL_PARTS[:2]:      # in the raw mail and in the decoded parts
        assert local not in raw and local not in text and local not in html
    images = [p for p in parsed.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2 and all(p.get_content().startswith(b"\x89PNG") for p in images)
