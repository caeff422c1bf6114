"""`privacy-milter summary`: preview and HTML on a seeded, an empty and a missing store."""

from __future__ import annotations

import aiosqlite

from summary_seed import seed  # type: ignore[import-not-found]

from privacy_milter.cli import main
from privacy_milter.summary.source import store_tables_ddl


def _policy(tmp_path, store):
    p = tmp_path / "policy.toml"
    p.write_text(f'[store]\npath = "{store}"\nretention_days = 90\n[summary]\ntop_n = 5\n')
    return p


def test_preview_on_a_missing_store_says_so_and_creates_nothing(tmp_path, capsys):
    store = tmp_path / "none.db"
    assert main(["summary", "--policy", str(_policy(tmp_path, store)), "--preview", "--week", "2026-W48"]) == 0
    out, err = capsys.readouterr()
    assert "does not exist yet: showing an empty report" in err
    assert out.startswith("Mail privacy summary, week 48 2026\n")
    assert "No mail this week." in out and "Retention window" in out and "90 days" in out
    assert "outbound deliveries (the delivery-log reader has written none)" in out.replace("\n  ", " ")
    assert max(len(line) for line in out.splitlines()) <= 80
    assert not store.exists()


async def _empty_store(path):
    async with aiosqlite.connect(path) as db:
        await db.executescript(store_tables_ddl())


def test_preview_on_an_empty_store(tmp_path, capsys):
    import asyncio
    store = tmp_path / "m.db"
    asyncio.run(_empty_store(store))
    assert main(["summary", "--store", str(store), "--policy", str(_policy(tmp_path, store)),
                 "--preview", "--week", "2026-W01"]) == 0
    out, err = capsys.readouterr()
    assert "week 1 2026" in out and "No mail this week." in out and err == ""


def test_preview_and_html_of_a_seeded_week(tmp_path, capsys):
    import asyncio
    store = tmp_path / "m.db"
    asyncio.run(seed(store))
    policy = str(_policy(tmp_path, store))
    assert main(["summary", "--policy", policy, "--preview", "--week", "2026-W48"]) == 0
    out = capsys.readouterr().out
    assert "19 messages, 75.0% encrypted." in out          # (9 + 3) / (10 + 6)
    assert "plain.example" in out and "certificate-expired" in out
    html = tmp_path / "out" / "summary.html"
    html.parent.mkdir()
    assert main(["summary", "--policy", policy, "--html", str(html), "--week", "2026-W48"]) == 0
    text = html.read_text()
    pngs = sorted(p.name for p in html.parent.glob("*.png"))
    assert pngs == ["summary-encrypted-share.png", "summary-outbound-levels.png"]
    assert "cid:" not in text and all(f'src="{name}"' in text for name in pngs)
    assert all((html.parent / n).read_bytes().startswith(b"\x89PNG") for n in pngs)


def test_a_bad_week_and_an_unwritable_file_are_clear_errors(tmp_path, capsys):
    policy = str(_policy(tmp_path, tmp_path / "none.db"))
    assert main(["summary", "--policy", policy, "--preview", "--week", "48"]) == 69
    assert "is not an ISO week such as 2026-W48" in capsys.readouterr().err
    assert main(["summary", "--policy", policy, "--html", str(tmp_path / "no" / "x.html")]) == 69
    assert "cannot write" in capsys.readouterr().err
    assert main(["summary", "--policy", policy, "--send"]) == 69
    assert "recipients is empty" in capsys.readouterr().err
