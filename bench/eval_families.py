"""Recall per family on a frozen DLP family set (issue 24's families, issue 29's probes).

    .venv/bin/python bench/dlp_families/build.py /tmp/fam && .venv/bin/python bench/eval_families.py /tmp/fam
    .venv/bin/python bench/dlp_probes/build.py /tmp/probes && .venv/bin/python bench/eval_families.py /tmp/probes
    options: --markdown (a table for docs/BENCHMARKS.md), --by-lang, --misses

Reads labels.jsonl ({"file", "labels", "family", "lang"}), scans each message with
privacy_filters.dlp.scan, and prints per family: n, the recall of each category it holds
(found / labelled), the clean messages flagged, the messages with a category found that
is not labelled ("extra"), and those the scanner counted unscannable; then the totals.
--misses lists each wrong message with the rule symbols that fired: never a value.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from privacy_filters.dlp import CATEGORIES, scan

SHORT = {"payment_card": "card", "iban": "iban", "uk_bank_account": "uk", "password": "pw"}


@dataclass
class Tally:
    n: int = 0
    labelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    found: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    clean: int = 0
    clean_flagged: int = 0
    extra: int = 0
    unscannable: int = 0

    def add(self, truth: set[str], got: set[str], unscannable: bool) -> None:
        self.n += 1
        for c in truth:
            self.labelled[c] += 1
            self.found[c] += c in got
        if not truth:
            self.clean += 1
            self.clean_flagged += bool(got)
        elif got - truth:
            self.extra += 1
        self.unscannable += unscannable

    def recall_cells(self) -> str:
        cells = [f"{SHORT[c]} {self.found[c]}/{self.labelled[c]}"
                 for c in CATEGORIES if self.labelled[c]]
        return ", ".join(cells) or "-"

    def worst_recall(self) -> float | None:
        shares = [self.found[c] / self.labelled[c] for c in CATEGORIES if self.labelled[c]]
        return min(shares) if shares else None


def evaluate(corpus: Path, misses: list[str] | None = None) -> tuple[dict[str, Tally], dict[str, Tally]]:
    """Tallies per family and per language, in the order of labels.jsonl."""
    families: dict[str, Tally] = defaultdict(Tally)
    langs: dict[str, Tally] = defaultdict(Tally)
    for line in (corpus / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        report = scan((corpus / entry["file"]).read_bytes())
        truth, got = set(entry["labels"]), {f.category for f in report.findings}
        for tally in (families[entry["family"]], langs[entry.get("lang", "-")]):
            tally.add(truth, got, bool(report.unscannable))
        if misses is not None and truth != got:
            rules = sorted({f"{f.category}:{r}:{f.confidence.name.lower()}"
                            for f in report.findings for r in f.rules})
            why = ",".join(report.unscannable_reasons) or ""
            misses.append(f"{entry['file']} {entry['family']} [{entry.get('lang', '-')}] "
                          f"expected {sorted(truth) or ['clean']} found {rules or ['nothing']}"
                          + (f" unscannable {why}" if report.unscannable else ""))
    return families, langs


def total(tallies: dict[str, Tally]) -> Tally:
    out = Tally()
    for t in tallies.values():
        out.n += t.n
        out.clean += t.clean
        out.clean_flagged += t.clean_flagged
        out.extra += t.extra
        out.unscannable += t.unscannable
        for c in CATEGORIES:
            out.labelled[c] += t.labelled[c]
            out.found[c] += t.found[c]
    return out


def _row(name: str, t: Tally, markdown: bool) -> str:
    worst = t.worst_recall()
    recall = "-" if worst is None else f"{worst:.2f}"
    clean = f"{t.clean_flagged}/{t.clean}" if t.clean else "-"
    if markdown:
        return (f"| {name} | {t.n} | {t.recall_cells()} | {recall} | {clean} | {t.extra} "
                f"| {t.unscannable} |")
    return (f"{name:42} {t.n:4}  {t.recall_cells():34} {recall:>6}  {clean:>7} {t.extra:5} "
            f"{t.unscannable:5}")


def print_table(title: str, tallies: dict[str, Tally], markdown: bool) -> None:
    if markdown:
        print(f"| {title} | n | found / labelled | recall | clean flagged | extra | unscannable |")
        print("| --- | ---: | --- | ---: | ---: | ---: | ---: |")
    else:
        print(f"{title:42} {'n':>4}  {'found / labelled':34} {'recall':>6}  {'clean':>7} "
              f"{'extra':>5} {'unsc':>5}")
    for name, t in tallies.items():
        print(_row(name, t, markdown))
    all_ = total(tallies)
    print(_row("**total**" if markdown else "TOTAL", all_, markdown))


def summary(tallies: dict[str, Tally]) -> str:
    all_ = total(tallies)
    parts = [f"{c} {all_.found[c]}/{all_.labelled[c]} = {all_.found[c] / all_.labelled[c]:.3f}"
             for c in CATEGORIES if all_.labelled[c]]
    positive = [t.worst_recall() for t in tallies.values() if t.worst_recall() is not None]
    at_target = sum(1 for w in positive if w is not None and w >= 0.95)
    return (f"recall: {'; '.join(parts)}. clean messages flagged: {all_.clean_flagged}/"
            f"{all_.clean}. families with every category >= 0.95: {at_target}/{len(positive)}; "
            f"negative families with nothing flagged: "
            f"{sum(1 for t in tallies.values() if t.clean and not t.clean_flagged)}/"
            f"{sum(1 for t in tallies.values() if t.clean)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--by-lang", action="store_true")
    parser.add_argument("--misses", action="store_true")
    args = parser.parse_args()
    misses: list[str] | None = [] if args.misses else None
    families, langs = evaluate(args.corpus, misses)
    print_table("family", families, args.markdown)
    if args.by_lang:
        print()
        print_table("language", dict(sorted(langs.items())), args.markdown)
    print()
    print(summary(families))
    if misses:
        print("\n" + "\n".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
