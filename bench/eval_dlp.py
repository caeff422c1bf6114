"""Precision, recall and F1 of the DLP detectors on a labelled corpus.

    .venv/bin/python bench/eval_dlp.py CORPUS_DIR [--show-errors]

CORPUS_DIR holds NNNNN.eml files and labels.jsonl ({"file": ..., "labels": [...]}).
A message counts as flagged for a category when scan() reports any finding of it.
--show-errors lists, per message with an error, the expected and found categories and
every hit's rule symbol, confidence, part and line, with the value masked (first and last
character at most, as `scan --explain` shows it): never the value, never the message text.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from privacy_filters.dlp import CATEGORIES, scan
from privacy_filters.dlp.explain import explain


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    labels = [json.loads(line) for line in (args.corpus / "labels.jsonl").read_text().splitlines()
              if line.strip()]
    tp = dict.fromkeys(CATEGORIES, 0)
    fp = dict.fromkeys(CATEGORIES, 0)
    fn = dict.fromkeys(CATEGORIES, 0)
    clean = clean_flagged = 0
    errors: list[str] = []
    for entry in labels:
        truth = set(entry["labels"])
        raw = (args.corpus / entry["file"]).read_bytes()
        report = scan(raw)
        got = {f.category for f in report.findings}
        wrong = []
        for c in CATEGORIES:
            if c in got and c in truth:
                tp[c] += 1
            elif c in got:
                fp[c] += 1
                wrong.append(f"FP {c}")
            elif c in truth:
                fn[c] += 1
                wrong.append(f"FN {c}")
        if wrong and args.show_errors:
            errors.append(_describe(entry["file"], truth, got, wrong, raw))
        if not truth:
            clean += 1
            clean_flagged += bool(got)
    print(f"{'category':16} {'P':>6} {'R':>6} {'F1':>6}   tp  fp  fn")
    for c in CATEGORIES:
        p, r, f = _prf(tp[c], fp[c], fn[c])
        print(f"{c:16} {p:6.3f} {r:6.3f} {f:6.3f} {tp[c]:4} {fp[c]:3} {fn[c]:3}")
    p, r, f = _prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    print(f"{'micro':16} {p:6.3f} {r:6.3f} {f:6.3f}")
    share = clean_flagged / clean if clean else 0.0
    print(f"clean messages flagged: {clean_flagged}/{clean} = {share:.2%}")
    if args.show_errors:
        print("\n".join(sorted(errors)))
    return 0


def _describe(name: str, truth: set[str], got: set[str], wrong: list[str], raw: bytes) -> str:
    """One error: expected vs found categories, then each hit (symbol, confidence, masked)."""
    lines = [f"{name}: {', '.join(wrong)}; expected {sorted(truth) or ['clean']}, "
             f"found {sorted(got) or ['nothing']}"]
    for e in explain(raw):
        lines.append(f"    {e.category:16} {e.rule:28} {e.confidence.label:6} "
                     f"{e.where}#{e.part} line {e.line}  {e.shown}")
    return "\n".join(lines)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


if __name__ == "__main__":
    sys.exit(main())
