"""`privacy-milter scan --json` over the labelled dev corpus, as a user would run it: the
detectors must hold the quality bar (micro F1 >= 0.97, at most 1% of clean mail flagged)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "dlp-dev"
CATEGORIES = ("payment_card", "iban", "uk_bank_account", "password")


@pytest.mark.skipif(not (CORPUS / "labels.jsonl").exists(), reason="the dev corpus (../shared) is not beside the checkout")
def test_scan_json_meets_the_quality_bar_on_the_dev_corpus():
    out = subprocess.run([str(Path(sys.executable).parent / "privacy-milter"), "scan", "--json", str(CORPUS)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    found = {}
    for line in out.stdout.splitlines():
        record = json.loads(line)
        assert set(record) >= {"path", "findings", "action"}
        for f in record["findings"]:
            assert set(f) == {"category", "confidence", "count", "rules"}
            assert f["confidence"] in ("low", "medium", "high") and f["count"] >= 1
        found[Path(record["path"]).name] = {f["category"] for f in record["findings"]}
    labels = {}
    for line in (CORPUS / "labels.jsonl").read_text().splitlines():
        item = json.loads(line)
        labels[item["file"]] = set(item["labels"])
    assert set(found) == set(labels)
    tp = fp = fn = 0
    for name, truth in labels.items():
        got = found[name] & set(CATEGORIES)
        tp += len(got & truth)
        fp += len(got - truth)
        fn += len(truth - got)
    f1 = 2 * tp / (2 * tp + fp + fn)
    clean = [n for n, t in labels.items() if not t]
    flagged_clean = sum(1 for n in clean if found[n])
    assert f1 >= 0.97, f"micro F1 {f1:.3f} (tp {tp}, fp {fp}, fn {fn})"
    assert flagged_clean <= 0.01 * len(clean), f"{flagged_clean} of {len(clean)} clean messages flagged"
