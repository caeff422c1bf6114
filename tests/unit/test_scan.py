"""privacy-milter scan: same results in one process and spread over workers, input order kept."""

import io
import json

from privacy_milter import policy as policy_mod
from privacy_milter.scan import scan_files

MESSAGES = {
    "card.eml": b"Subject: order\r\n\r\nMy card number is 4539 1488 0343 6467, expiry 09/27\r\n",
    "clean.eml": b"Subject: lunch\r\n\r\nSee you at noon by the station.\r\n",
    "iban.eml": b"Subject: invoice\r\n\r\nPlease pay to IBAN GB53 MIDL 4005 1571 2345 67.\r\n",
}


def run(files, workers):
    out = io.StringIO()
    status = scan_files(files, policy_mod.default, True, out, workers=workers)
    return status, [json.loads(line) for line in out.getvalue().splitlines()]


def test_serial_and_parallel_agree_and_keep_order(tmp_path):
    files = []
    for i in range(40):
        for name, raw in MESSAGES.items():
            path = tmp_path / f"{i:02d}-{name}"
            path.write_bytes(raw)
            files.append(path)
    serial = run(files, 1)
    parallel = run(files, 2)
    assert serial == parallel
    status, records = serial
    assert status == 0 and [r["path"] for r in records] == [str(f) for f in files]
    by_kind = {r["path"].rsplit("/", 1)[1].split("-", 1)[1]: r for r in records}
    assert [f["category"] for f in by_kind["card.eml"]["findings"]] == ["payment_card"]
    assert by_kind["card.eml"]["action"] == "reject"
    assert by_kind["clean.eml"]["findings"] == [] and by_kind["clean.eml"]["action"] == "accept"
    assert [f["category"] for f in by_kind["iban.eml"]["findings"]] == ["iban"]


def test_unreadable_file_is_reported_and_the_rest_scanned(tmp_path, capsys):
    good = tmp_path / "good.eml"
    good.write_bytes(MESSAGES["clean.eml"])
    status, records = run([tmp_path / "missing.eml", good], 1)
    assert status == 1 and [r["path"] for r in records] == [str(good)]
    assert "missing.eml: cannot read" in capsys.readouterr().err


def test_unreadable_files_among_workers_keep_their_place(tmp_path, capsys):
    files = []
    for i in range(150):
        path = tmp_path / f"{i:03d}.eml"
        if i % 37 != 5:
            path.write_bytes(MESSAGES["card.eml" if i % 2 else "clean.eml"])
        files.append(path)
    serial, parallel = run(files, 1), run(files, 2)
    assert serial == parallel and serial[0] == 1
    assert [r["path"] for r in parallel[1]] == [str(f) for f in files if f.exists()]
    err = capsys.readouterr().err
    assert err.count("cannot read") == 2 * 4 and err.index("005.eml") < err.index("042.eml")


def test_json_lists_the_rules_that_fired(tmp_path):
    path = tmp_path / "card.eml"
    path.write_bytes(MESSAGES["card.eml"])
    _, records = run([path], 1)
    assert records[0]["findings"] == [{"category": "payment_card", "confidence": "high", "count": 1,
                                       "rules": ["card.luhn_iin_context"]}]


def test_explain_names_rule_part_line_and_masks_the_value(tmp_path):
    from privacy_milter.scan import explain_files

    card = "4539148803436467"
    path = tmp_path / "m.eml"
    path.write_bytes(b"Subject: trip\r\n\r\nHello,\r\nFor the hotel deposit:\r\n"
                     b"4539 1488 0343 6467\r\n09/27\r\nbank 30-94-57 / 61528374\r\n")
    out = io.StringIO()
    assert explain_files([path], policy_mod.default(), out) == 0
    text = out.getvalue()
    assert "card.luhn_iin_expiry" in text and "high" in text and "body (part 2) line 3: 4" in text
    assert "uk_account." in text and "line 5" in text
    for secret in (card, "309457", "61528374"):
        assert not any(secret[i:i + 6] in text.replace(" ", "") for i in range(len(secret) - 5))
    assert "4" + "•" * 14 + "7" in text


def test_a_filter_that_must_await_runs_on_an_event_loop_in_each_worker(tmp_path):
    """Most messages are judged without an event loop (Pipeline.run_now); a filter with only
    an async check makes the rest of the run go on a loop, in the worker that scans it."""
    import asyncio
    from dataclasses import dataclass

    from privacy_milter import registry
    from privacy_milter.model import Action, Result
    from privacy_milter.plugin import FilterSettings, FilterSpec, read_common

    @dataclass(frozen=True)
    class WaitSettings(FilterSettings):
        pass

    def read_wait(r):
        timeout, on_error = read_common(r, 5.0, "accept")
        r.done()
        return WaitSettings(timeout=timeout, on_error=on_error)

    class Wait:
        name = "wait"

        def __init__(self, settings, services):
            pass

        async def check(self, message, ctx):
            await asyncio.sleep(0)
            return Result(self.name, action=Action.TAG if ctx.results[0].findings else Action.ACCEPT)

    registry.register(FilterSpec(name="wait", read=read_wait, build=Wait, after=("dlp",), offline=True))
    try:
        def loader():
            return policy_mod.parse('[pipeline]\nfilters = ["dlp", "wait"]\n')

        files = []
        for i in range(40):
            for name, raw in MESSAGES.items():
                path = tmp_path / f"{i:02d}-{name}"
                path.write_bytes(raw)
                files.append(path)
        results = []
        for workers in (1, 2):
            out = io.StringIO()
            assert scan_files(files, loader, True, out, workers=workers) == 0
            results.append([json.loads(line) for line in out.getvalue().splitlines()])
        assert results[0] == results[1] and len(results[0]) == len(files)
        by_kind = {r["path"].rsplit("-", 1)[1]: r["action"] for r in results[0]}
        assert by_kind == {"card.eml": "reject", "clean.eml": "accept", "iban.eml": "tag"}
    finally:
        registry.unregister("wait")


def test_cli_jobs_give_the_same_output_and_bad_values_are_refused(tmp_path, capsys):
    import pytest

    from privacy_milter import cli
    from privacy_milter import scan as scan_mod

    for i in range(70):  # above PARALLEL_FROM: the default forks on a multi-CPU host
        name = list(MESSAGES)[i % 3]
        (tmp_path / f"{i:02d}-{name}").write_bytes(MESSAGES[name])
    outputs = []
    for jobs in ([], ["--jobs", "1"], ["-j", "3"], ["--jobs", "64"]):
        assert cli.main(["scan", "--json", *jobs, str(tmp_path)]) == 0
        outputs.append(capsys.readouterr().out)
    assert len(outputs[0].splitlines()) == 70 and len(set(outputs)) == 1
    for bad, why in (("0", "0 is not between 1 and 64"), ("65", "65 is not between 1 and 64"),
                     ("two", "'two' is not a whole number")):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(["scan", "--jobs", bad, str(tmp_path)])
        assert exit_info.value.code == 2 and why in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["scan", "--help"])
    usage = " ".join(capsys.readouterr().out.split())
    assert f"up to {scan_mod.MAX_WORKERS}, for {scan_mod.PARALLEL_FROM} files" in usage


def _with_corrupt_zip(body: str) -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["Subject"] = "files"
    msg.set_content(body)
    msg.add_attachment(b"PK\x03\x04" + b"\x00" * 50, maintype="application", subtype="zip",
                       filename="bad.zip")
    return msg.as_bytes()


def test_json_shows_the_policys_action_word_log_for_a_low_finding(tmp_path):
    """Issue 29: a low finding whose action is `log` says `log`, not `accept`."""
    path = tmp_path / "low.eml"
    path.write_bytes(b"Subject: numbers\r\n\r\nHere: 4539 1488 0343 6467 thanks\r\n")
    _, records = run([path], 1)
    assert [f["confidence"] for f in records[0]["findings"]] == ["low"]
    assert records[0]["action"] == "log"
    out = io.StringIO()
    scan_files([path], policy_mod.default, False, out, workers=1)
    assert ": log: payment_card=1 (low)" in out.getvalue()


def test_json_and_text_show_unscannable_reasons(tmp_path):
    path = tmp_path / "zip.eml"
    path.write_bytes(_with_corrupt_zip("Nothing to see."))
    _, records = run([path], 1)
    assert records[0]["unscannable"] == ["malformed"]
    assert records[0]["findings"] == []
    out = io.StringIO()
    scan_files([path], policy_mod.default, False, out, workers=1)
    assert "unscannable: malformed" in out.getvalue()


def test_explain_shows_unscannable_reasons(tmp_path):
    from privacy_milter.scan import explain_files

    path = tmp_path / "zip.eml"
    path.write_bytes(_with_corrupt_zip("Nothing to see."))
    out = io.StringIO()
    assert explain_files([path], policy_mod.default(), out) == 0
    assert "unscannable: malformed=1" in out.getvalue()
