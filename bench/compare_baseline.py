"""Quality and speed of a model-free open baseline (Presidio pattern recognizers + detect-secrets)
against `privacy-milter scan --json` on a labelled corpus.

    .venv/bin/python bench/compare_baseline.py [CORPUS_DIR] [--copies 5] [--runs 3] [--ours-rev REV] [--ours-jobs N]
        [--only presidio|detect-secrets] [--us-bank] [--html raw] [--ds-mode adhoc]
        [--ds-plugins all|keyword ...] [--ds-mode file|adhoc ...] [--quality-only]

CORPUS_DIR (default /work/shared/corpus/dlp-dev) holds *.eml files and labels.jsonl
({"file": ..., "labels": [...]}).

The baseline runs in its own throwaway venv (default bench/.baseline-venv, built on first use
with the pinned presidio-analyzer and detect-secrets from PyPI; never the repository's .venv).
This same file is its worker: `compare_baseline.py --worker OUT.jsonl PATH...` under that
venv's python extracts the text of every message with the stdlib `email` package (subject and
every text/* part, decoded; HTML turned into text with html.parser; timed as part of the
baseline), runs Presidio's AnalyzerEngine with a no-op NLP engine (no spaCy model) and only
pattern recognizers, and detect-secrets' plugins with its default filters, and writes one JSON
line per message: its path, our categories, and the raw entity/secret types (never the
matched text). --ds-plugins all (default: every detect-secrets plugin, as `detect-secrets scan`)
or keyword (its KeywordDetector alone: the peer issue 11 names, "Presidio's pattern
recognizers + detect-secrets' keyword detector"); --ds-mode file (`detect-secrets scan FILE` on
the text saved as a file) or adhoc (`scan_line` per line, as `detect-secrets scan --string`).
Given several of either, each (plugins, mode) pair is a baseline of its own, measured in the
same alternated runs.

Mapping to our categories: CREDIT_CARD -> payment_card, IBAN_CODE -> iban, any detect-secrets
secret type -> password. Presidio has no UK sort code/account recognizer; --us-bank maps its
US_BANK_NUMBER (8-17 digits) to uk_bank_account as a generous variant.

Quality: a message counts as flagged for a category when the tool reports any finding of it.
Speed: the whole command, as a user would run it, as a subprocess (wall time, and CPU time of
all its processes from getrusage(RUSAGE_CHILDREN); per message: a full run minus a one-message run): ours is
`.venv/bin/privacy-milter scan --json DIR`, the baseline is the worker over the same DIR. The
speed corpus is CORPUS_DIR copied --copies times under distinct names (5 x 400 = 2,000). Each
timing runs --runs times, alternating tools; best and median are reported.

Exit 0 with the tables printed; 2 if a step fails or the whole run passes --deadline seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CATEGORIES = ("payment_card", "iban", "uk_bank_account", "password")
BASELINE_PACKAGES = ("presidio-analyzer==2.2.366", "detect-secrets==1.5.0")  # the versions measured in docs
PRESIDIO_MAP = {"CREDIT_CARD": "payment_card", "IBAN_CODE": "iban"}


class Failed(Exception):
    pass


# --- worker: runs under the baseline venv's python, imports nothing from this repository -----

def _html_to_text(html: str) -> str:
    from html.parser import HTMLParser

    class Text(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skip = 0

        def handle_starttag(self, tag: str, attrs: object) -> None:
            if tag in ("script", "style"):
                self.skip += 1
            self.parts.append("\n" if tag in ("br", "p", "div", "tr", "li", "table", "h1", "h2", "h3")
                              else " ")

        def handle_endtag(self, tag: str) -> None:
            if tag in ("script", "style") and self.skip:
                self.skip -= 1
            self.parts.append("\n" if tag in ("p", "div", "tr", "li", "table") else " ")

        def handle_data(self, data: str) -> None:
            if not self.skip:
                self.parts.append(data)

    parser = Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def message_text(raw: bytes, html_mode: str = "text") -> str:
    """Subject plus every text/* part, transfer- and charset-decoded (stdlib compat32 parser,
    the fast one: the slow header registry of email.policy.default would bill the baseline for
    our harness)."""
    import email
    from email.header import decode_header, make_header

    msg = email.message_from_bytes(raw)
    subject = msg.get("subject", "")
    try:
        chunks = [str(make_header(decode_header(subject)))]
    except (LookupError, ValueError, UnicodeError):
        chunks = [str(subject)]
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            text = payload.decode(charset, "replace")
        except LookupError:
            text = payload.decode("utf-8", "replace")
        if part.get_content_subtype() == "html" and html_mode == "text":
            text = _html_to_text(text)
        chunks.append(text)
    return "\n".join(chunks)


def worker(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="compare_baseline.py --worker")
    parser.add_argument("out", type=Path)
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--us-bank", action="store_true")
    parser.add_argument("--html", choices=("text", "raw"), default="text")
    parser.add_argument("--ds-mode", choices=("file", "adhoc"), default="file")
    parser.add_argument("--only", choices=("presidio", "detect-secrets"))
    parser.add_argument("--ds-plugins", choices=("all", "keyword"), default="all")
    args = parser.parse_args(argv)

    from detect_secrets.core import scan as ds_scan
    from detect_secrets.settings import default_settings, transient_settings
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NoOpNlpEngine
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        IbanRecognizer,
    )

    recognizers = [CreditCardRecognizer(), IbanRecognizer()]
    mapping = dict(PRESIDIO_MAP)
    if args.us_bank:
        from presidio_analyzer.predefined_recognizers import UsBankRecognizer

        recognizers.append(UsBankRecognizer())
        mapping["US_BANK_NUMBER"] = "uk_bank_account"
    registry = RecognizerRegistry(recognizers=recognizers, supported_languages=["en"])
    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "no_op"}])
    nlp.load()
    analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])
    entities = sorted(mapping)

    files: list[Path] = []
    for path in args.paths:
        files.extend(sorted(p for p in path.rglob("*.eml") if p.is_file()) if path.is_dir() else [path])

    phases = {"extract": 0.0, "presidio": 0.0, "detect_secrets": 0.0}
    clock = time.perf_counter
    scratch = Path(tempfile.mkdtemp(prefix="baseline-ds-"))
    try:
        # keyword: KeywordDetector alone, default filters (transient_settings keeps them).
        settings = (default_settings() if args.ds_plugins == "all"
                    else transient_settings({"plugins_used": [{"name": "KeywordDetector"}]}))
        with settings, args.out.open("w") as out:
            for path in files:
                t0 = clock()
                text = message_text(path.read_bytes(), args.html)
                t1 = clock()
                types = set()
                if args.only != "detect-secrets":
                    types = {r.entity_type for r in analyzer.analyze(text=text, language="en", entities=entities)}
                t2 = clock()
                if args.only == "presidio":
                    secrets = []
                elif args.ds_mode == "file":
                    # What `detect-secrets scan FILE` does, on the message text saved as a .txt file.
                    tmp = scratch / "message.txt"
                    tmp.write_text(text, encoding="utf-8", errors="surrogateescape")
                    secrets = list(ds_scan.scan_file(str(tmp)))
                else:
                    # `detect-secrets scan --string`, line by line (eager keyword search).
                    secrets = [s for line in text.splitlines() for s in ds_scan.scan_line(line)]
                ds_types = {s.type for s in secrets}
                t3 = clock()
                phases["extract"] += t1 - t0
                phases["presidio"] += t2 - t1
                phases["detect_secrets"] += t3 - t2
                categories = sorted({mapping[t] for t in types if t in mapping}
                                    | ({"password"} if ds_types else set()))
                out.write(json.dumps({"path": str(path), "categories": categories,
                                      "types": sorted(types | ds_types)}) + "\n")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.out.with_suffix(".phases.json").write_text(json.dumps(phases))
    return 0


# --- driver -----------------------------------------------------------------------------------

class Clock:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.total = seconds

    def left(self, what: str) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise Failed(f"deadline of {self.total:.0f} s passed before {what}")
        return left


CPU: list[float] = []  # CPU seconds (user + system) of each run()'s command, all its processes


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(cmd: list[str], clock: Clock, what: str, stdout: Path | None = None,
        env: dict[str, str] | None = None) -> float:
    """Run cmd, stdout to a file; return wall seconds (its CPU seconds, with every process it
    waited for, go to CPU). Fail clearly on error or deadline."""
    left = clock.left(what)
    cpu = _children_cpu()
    with (stdout.open("wb") if stdout else open(os.devnull, "wb")) as out:
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.PIPE, timeout=left, env=env,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise Failed(f"{what}: still running when the deadline of {clock.total:.0f} s passed") from None
        elapsed = time.perf_counter() - start
    CPU.append(_children_cpu() - cpu)
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise Failed(f"{what}: exit {proc.returncode}: {' | '.join(tail)}")
    return elapsed


def ensure_venv(venv: Path, clock: Clock) -> Path:
    python = venv / "bin" / "python"
    probe = [str(python), "-c", "import presidio_analyzer, detect_secrets"]
    if python.exists() and subprocess.run(probe, capture_output=True, check=False).returncode == 0:
        return python
    print(f"building the baseline venv {venv} ...", file=sys.stderr)
    run([sys.executable if Path(sys.executable).exists() else "python3", "-m", "venv", "--clear",
         str(venv)], clock, "python -m venv")
    run([str(python), "-m", "pip", "install", "-q", *BASELINE_PACKAGES], clock,
        "pip install " + " ".join(BASELINE_PACKAGES))
    return python


def versions(python: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, platform; print(json.dumps({p: m.version(p) for p in "
            "('presidio-analyzer', 'detect-secrets')} | {'python': platform.python_version()}))")
    return json.loads(subprocess.run([str(python), "-c", code], capture_output=True, check=True).stdout)


def ours_source(rev: str | None, dest: Path) -> tuple[dict[str, str] | None, str]:
    """Environment that makes .venv's privacy-milter run the sources of git revision rev
    (exported into dest, ahead of the editable install on sys.path), and a description."""
    if rev is None:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=False).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "milter", "filters"],
                               capture_output=True, text=True, check=False).stdout.strip()
        return None, f"installed work tree at {head}{' with uncommitted changes' if dirty else ''}"
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from bench.revsrc import RevisionError, export_sources  # here: the same file is the baseline's worker

    try:
        env, sha = export_sources(rev, dest)
    except RevisionError as exc:
        raise Failed(f"--ours-rev: {exc}") from None
    return env, f"sources of commit {sha}"


def ours_categories(jsonl: Path) -> dict[str, set[str]]:
    result = {}
    for line in jsonl.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            result[Path(record["path"]).name] = {f["category"] for f in record["findings"]} & set(CATEGORIES)
    return result


def baseline_categories(jsonl: Path) -> dict[str, set[str]]:
    result = {}
    for line in jsonl.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            result[Path(record["path"]).name] = set(record["categories"])
    return result


def quality(labels: list[dict], got: dict[str, set[str]]) -> dict:
    tp = dict.fromkeys(CATEGORIES, 0)
    fp = dict.fromkeys(CATEGORIES, 0)
    fn = dict.fromkeys(CATEGORIES, 0)
    clean = clean_flagged = 0
    for entry in labels:
        truth = set(entry["labels"])
        if entry["file"] not in got:
            raise Failed(f"no result for {entry['file']}")
        flagged = got[entry["file"]]
        for c in CATEGORIES:
            tp[c] += c in flagged and c in truth
            fp[c] += c in flagged and c not in truth
            fn[c] += c not in flagged and c in truth
        if not truth:
            clean += 1
            clean_flagged += bool(flagged)
    rows = {c: (*_prf(tp[c], fp[c], fn[c]), tp[c], fp[c], fn[c]) for c in CATEGORIES}
    rows["micro"] = (*_prf(sum(tp.values()), sum(fp.values()), sum(fn.values())),
                     sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return {"rows": rows, "clean": clean, "clean_flagged": clean_flagged}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def print_quality(name: str, q: dict) -> None:
    print(f"\n{name}")
    print("| category | precision | recall | F1 | tp | fp | fn |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for c, (p, r, f, tp, fp, fn) in q["rows"].items():
        print(f"| {c} | {p:.3f} | {r:.3f} | {f:.3f} | {tp} | {fp} | {fn} |")
    share = q["clean_flagged"] / q["clean"] if q["clean"] else 0.0
    print(f"clean messages flagged: {q['clean_flagged']}/{q['clean']} = {share:.2%}")


def speed_corpus(corpus: Path, copies: int, dest: Path) -> int:
    n = 0
    sources = sorted(p for p in corpus.rglob("*.eml") if p.is_file())
    for i in range(copies):
        for src in sources:
            shutil.copyfile(src, dest / f"c{i}-{src.name}")
            n += 1
    return n


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        return worker(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, nargs="?", default=Path("/work/shared/corpus/dlp-dev"))
    parser.add_argument("--copies", type=int, default=5, help="copies of the corpus for the speed run")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per tool")
    parser.add_argument("--venv", type=Path, default=REPO / "bench" / ".baseline-venv")
    parser.add_argument("--ours", type=Path, default=REPO / ".venv" / "bin" / "privacy-milter")
    parser.add_argument("--us-bank", action="store_true",
                        help="map Presidio's US_BANK_NUMBER to uk_bank_account (variant)")
    parser.add_argument("--html", choices=("text", "raw"), default="text",
                        help="give the baseline HTML parts as text (default) or raw markup")
    parser.add_argument("--ds-mode", choices=("file", "adhoc"), nargs="+", default=["file"],
                        help="detect-secrets as `scan FILE` (default) or `scan --string` per line; "
                             "both: a baseline for each, with each --ds-plugins set")
    parser.add_argument("--ds-plugins", choices=("all", "keyword"), nargs="+", default=["all"],
                        help="detect-secrets plugins: all (default) or keyword (KeywordDetector alone, "
                             "the issue-11 peer); both: two baselines in the same alternated runs")
    parser.add_argument("--ours-rev", metavar="REV",
                        help="run .venv's privacy-milter on the sources of this git revision instead of the work tree")
    parser.add_argument("--ours-jobs", type=int, metavar="N",
                        help="`privacy-milter scan --jobs N` (default: its own, one process per CPU); "
                             "1 compares one process with the single-process peers like for like")
    parser.add_argument("--only", choices=("presidio", "detect-secrets"),
                        help="run one half of the baseline (to see where its time goes)")
    parser.add_argument("--quality-only", action="store_true")
    parser.add_argument("--deadline", type=float, default=1800, help="seconds for the whole run")
    parser.add_argument("--keep", type=Path, help="write both tools' JSON Lines into this directory")
    args = parser.parse_args()
    clock = Clock(args.deadline)
    try:
        return _main(args, clock)
    except Failed as exc:
        print(f"compare_baseline: FAILED: {exc}", file=sys.stderr)
        return 2


def _main(args: argparse.Namespace, clock: Clock) -> int:
    corpus = args.corpus.resolve()
    labels_file = corpus / "labels.jsonl"
    if not labels_file.exists():
        raise Failed(f"{labels_file} not found")
    if not args.ours.exists():
        raise Failed(f"{args.ours} not found: install the project into .venv first")
    labels = [json.loads(line) for line in labels_file.read_text().splitlines() if line.strip()]
    python = ensure_venv(args.venv, clock)
    vers = versions(python)
    common_opts = ((["--us-bank"] if args.us_bank else []) + (["--only", args.only] if args.only else [])
                   + ["--html", args.html])
    baseline_cmd = [str(python), str(Path(__file__).resolve()), "--worker"]
    ours_cmd = [str(args.ours), "scan", "--json"] + (["--jobs", str(args.ours_jobs)] if args.ours_jobs else [])
    plugins = list(dict.fromkeys(args.ds_plugins))  # each once, in the order given
    modes = list(dict.fromkeys(args.ds_mode))
    # One baseline per --ds-plugins x --ds-mode pair: key, label, worker options.
    half = {"presidio": "Presidio pattern recognizers only", "detect-secrets": "detect-secrets only"}
    ds_label = {"all": "all plugins", "keyword": "KeywordDetector only"}
    baselines = []
    for plugin_set in plugins:
        for mode in modes:
            key = ("baseline" if len(plugins) * len(modes) == 1
                   else f"baseline[{plugin_set}{'/' + mode if len(modes) > 1 else ''}]")
            label = half.get(args.only or "", "Presidio pattern recognizers + detect-secrets")
            if args.only != "presidio":
                label += f" ({ds_label[plugin_set]}{', ' + mode if len(modes) > 1 else ''})"
            baselines.append((key, label, common_opts + ["--ds-plugins", plugin_set, "--ds-mode", mode]))
    tools = ["ours"] + [key for key, _, _ in baselines]
    labels_of = {"ours": " ".join(["privacy-milter"] + ours_cmd[1:]), **{key: label for key, label, _ in baselines}}

    with tempfile.TemporaryDirectory(prefix="compare-baseline-") as tmp_name:
        tmp = Path(tmp_name)
        out_dir = args.keep or tmp
        out_dir.mkdir(parents=True, exist_ok=True)
        ours_out = out_dir / "ours.jsonl"
        env, ours_desc = ours_source(args.ours_rev, tmp / "src")
        run(ours_cmd + [str(corpus)], clock, "privacy-milter scan (quality)", ours_out, env)
        q_base = {}
        for key, _label, opts in baselines:
            base_out = out_dir / ("baseline.jsonl" if key == "baseline" else f"baseline-{key[9:-1].replace('/', '-')}.jsonl")
            run(baseline_cmd + [str(base_out), *opts, str(corpus)], clock, f"{key} (quality)")
            q_base[key] = quality(labels, baseline_categories(base_out))
        q_ours = quality(labels, ours_categories(ours_out))
        print(f"corpus: {corpus} ({len(labels)} labelled messages)")
        print(f"ours: {args.ours} scan --json, {ours_desc}")
        print(f"baseline: presidio-analyzer {vers['presidio-analyzer']} (CreditCardRecognizer, "
              f"IbanRecognizer{', UsBankRecognizer' if args.us_bank else ''}; NoOpNlpEngine), "
              f"detect-secrets {vers['detect-secrets']} ({' / '.join(ds_label[m] for m in plugins)}, "
              f"default filters, {' / '.join(modes)} mode), "
              f"HTML {args.html}, Python {vers['python']}{', ONLY ' + args.only if args.only else ''}")
        print_quality("privacy-milter scan --json", q_ours)
        for key, label, _ in baselines:
            print_quality(label, q_base[key])
        if args.quality_only:
            return 0

        speed_dir = tmp / "speed"
        speed_dir.mkdir()
        n = speed_corpus(corpus, args.copies, speed_dir)
        # Fixed cost of each command (interpreter, imports, set-up, one message) on one file.
        one = tmp / "one"
        one.mkdir()
        shutil.copyfile(sorted(speed_dir.glob("*.eml"))[0], one / "one.eml")
        commands = {"ours": (lambda out, src: ours_cmd + [str(src)], env)}
        for key, _, opts in baselines:
            commands[key] = ((lambda out, src, opts=opts: baseline_cmd + [str(out), *opts, str(src)]), None)
        times: dict[str, list[float]] = {k: [] for k in tools}
        cpus: dict[str, list[float]] = {k: [] for k in tools}
        startup: dict[str, list[float]] = {k: [] for k in tools}
        one_cpu: dict[str, list[float]] = {k: [] for k in tools}
        for i in range(args.runs):  # alternated: every tool once per round, full run then one message
            for key in tools:
                make, key_env = commands[key]
                full_out = tmp / f"{key.replace('/', '-')}-speed.jsonl"
                times[key].append(run(make(full_out, speed_dir), clock, f"{key} run {i + 1}",
                                      full_out if key == "ours" else None, key_env))
                cpus[key].append(CPU[-1])
                one_out = tmp / f"{key.replace('/', '-')}-one.jsonl"
                startup[key].append(run(make(one_out, one), clock, f"{key}, one message, run {i + 1}",
                                        None, key_env))
                one_cpu[key].append(CPU[-1])
        for key in tools:
            path = tmp / f"{key.replace('/', '-')}-speed.jsonl"
            lines = sum(1 for line in path.read_text().splitlines() if line.strip())
            if lines != n:
                raise Failed(f"{key} speed run wrote {lines} results for {n} messages")
        print(f"\nspeed: {n} messages ({args.copies} x {len(labels)}), whole command, wall seconds, "
              f"{args.runs} runs each, alternated")
        print("| tool | best s | median s | msg/s (best) | msg/s (median) |")
        print("|---|---:|---:|---:|---:|")
        summary = {}
        for key in tools:
            best, median = min(times[key]), statistics.median(times[key])
            summary[key] = (best, median)
            print(f"| {labels_of[key]} | {best:.2f} | {median:.2f} | {n / best:.0f} | {n / median:.0f} |")
        for key, _, _ in baselines:
            print(f"speed ratio ({key} time / ours): best {summary[key][0] / summary['ours'][0]:.1f}x, "
                  f"median {summary[key][1] / summary['ours'][1]:.1f}x")
        print("start-up and one message, best / median wall s: " + "; ".join(
            f"{k} {min(v):.2f} / {statistics.median(v):.2f}" for k, v in startup.items()))
        per = {k: (summary[k][0] - min(startup[k])) / (n - 1) for k in tools}
        if per["ours"] > 0:
            print("wall per message after start-up (best runs): " + "; ".join(
                f"{k} {per[k] * 1e3:.2f} ms" + ("" if k == "ours" else f" ({per[k] / per['ours']:.1f}x)")
                for k in tools))
        cpu_per = {k: [(full - statistics.median(one_cpu[k])) / (n - 1) for full in cpus[k]] for k in tools}
        print("CPU per message, all processes, full run minus the median one-message run (ms): " + "; ".join(
            f"{k} " + ", ".join(f"{c * 1e3:.3f}" for c in v) + f" (median {statistics.median(v) * 1e3:.3f})"
            for k, v in cpu_per.items()))
        med_ours = statistics.median(cpu_per["ours"])
        for key, _, _ in baselines:
            if med_ours > 0:
                print(f"CPU per message ratio ({key} / ours), medians: "
                      f"{statistics.median(cpu_per[key]) / med_ours:.1f}x")
        print("CPU s of the runs: " + "; ".join(f"{k} full " + ", ".join(f"{c:.2f}" for c in cpus[k])
                                               + ", one message " + ", ".join(f"{c:.2f}" for c in one_cpu[k])
                                               for k in tools))
        for key, _, _ in baselines:
            ph = json.loads((tmp / f"{key.replace('/', '-')}-speed.phases.json").read_text())
            print(f"{key} time inside its loop, last run (s): " + ", ".join(f"{k} {v:.2f}" for k, v in ph.items()))
        print("all runs (s): " + "; ".join(f"{k} " + ", ".join(f"{t:.2f}" for t in v) for k, v in times.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
