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
