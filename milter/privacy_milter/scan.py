"""`privacy-milter scan`: the content checks, offline, over .eml files or directories.

Messages are independent, so a large run is spread over one process per core, this one
and forked workers (the scan is CPU work; threads would share one interpreter lock).
Output keeps the order of the input. The policy and its pipeline are built once, in this
process, before the workers fork: they inherit them (never pickled) along with whatever the
first scans loaded. A worker sends back each message's output line, formatted.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TextIO

from .model import Action, Direction, DirectionDecision, Message, Session, Verdict
from .pipeline import Partial, Pipeline
from .plugin import FilterSpec
from .policy import Policy

PARALLEL_FROM = 64  # fewer files than this are scanned in this process: workers cost a fork each
MAX_WORKERS = 8     # the default's cap (`scan --jobs N` sets any number; the help names both)

SESSION = Session(connection_id="scan")
OUTBOUND = DirectionDecision(Direction.OUTBOUND, "scan")


class _Worker:
    """What one process scans with: the policy, its pipeline, the output format, and an event
    loop made only if a filter needs one (most messages are judged without: Pipeline.run_now)."""

    def __init__(self, policy: Policy, pipeline: Pipeline, as_json: bool) -> None:
        self.policy, self.pipeline, self.as_json = policy, pipeline, as_json
        self.loop: asyncio.AbstractEventLoop | None = None

    def run(self, message: Message, partial: Partial) -> Verdict:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(self.pipeline.run(message, self.policy.site, partial=partial))


# This process's worker: set by scan_files before the workers fork, so they inherit it
# (built once, never pickled); _after_fork drops the parent's event loop.
_worker: _Worker | None = None


def eml_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.eml") if p.is_file())
        else:
            yield path


def _after_fork() -> None:
    if _worker is not None:
        _worker.loop = None  # the parent's: its selector and self-pipe are not this process's


Outcome = tuple[str, str | None, str | None]  # (path, output line, error text)

CHUNK = 32  # files per task: one round trip to a worker each


def _scan_chunk(paths: list[str]) -> list[Outcome]:
    assert _worker is not None
    return [_scan_one(_worker, path) for path in paths]


def _scan_one(worker: _Worker, path: str) -> Outcome:
    """The output line: findings, action and failed filters."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        return path, None, f"cannot read: {exc.strerror}"
    message = Message.from_bytes(raw, SESSION)
    message.direction = OUTBOUND
    policy, pipeline = worker.policy, worker.pipeline
    try:
        prepared = pipeline.prepare(message)  # the scan itself, here rather than in a thread
        verdict = pipeline.run_now(message, policy.site, prepared=prepared)  # the same stages as run(), no event loop
        if isinstance(verdict, Partial):  # a filter that must await (or a prepare that failed)
            verdict = worker.run(message, verdict)
    finally:
        message.close()
    return path, _line(path, verdict, worker.as_json), None


def _line(path: str, verdict: Verdict, as_json: bool) -> str:
    failed = [r.filter for r in verdict.results if r.error]
    findings = verdict.findings
    reasons = _unscannable(verdict)
    action = _action_word(verdict, reasons)
    if as_json:
        record: dict[str, object] = {
            "path": path,
            "findings": [{"category": f.category, "confidence": f.confidence.label, "count": f.count,
                          "rules": list(f.rules)} for f in findings],
            "action": action}
        if reasons:
            record["unscannable"] = reasons
        if failed:
            record["failed"] = failed
        return json.dumps(record) + "\n"
    summary = ", ".join(f"{f.category}={f.count} ({f.confidence.label})" for f in findings)
    return (f"{path}: {action}: {summary or 'nothing found'}"
            f"{'; unscannable: ' + ','.join(reasons) if reasons else ''}"
            f"{' (failed: ' + ', '.join(failed) + ')' if failed else ''}\n")


def _unscannable(verdict: Verdict) -> list[str]:
    """Why parts of the message could not be read (the DLP result's fact), sorted."""
    return sorted({reason for r in verdict.results for key, value in r.facts
                   if key == "unscannable_reasons" for reason in value.split(",") if reason})


def _action_word(verdict: Verdict, reasons: list[str]) -> str:
    """The policy's word for what happens: `log` when something was found or could not be
    read and the policy only logs it (the milter accepts and writes the log line)."""
    if verdict.action is Action.ACCEPT and (verdict.findings or reasons):
        return "log"
    return verdict.action.label


def scan_files(files: list[Path], policy_loader: Callable[[], Policy], as_json: bool, out: TextIO | None = None,
               workers: int | None = None) -> int:
    """Scan `files` with the policy `policy_loader()` returns, to `out` (standard output as it
    is when called); exit status 1 if one was unreadable."""
    global _worker
    out = sys.stdout if out is None else out
    from .registry import build_pipeline

    if workers is None:
        workers = min(os.cpu_count() or 1, MAX_WORKERS) if len(files) >= PARALLEL_FROM else 1
    names = [str(f) for f in files]
    chunks = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)]
    workers = min(workers, len(chunks))  # `--jobs 64` over three chunks forks two, not 63
    policy = policy_loader()
    _worker = worker = _Worker(policy, build_pipeline(policy, content_only=True), as_json)
    try:
        if workers <= 1 or len(chunks) <= 1:
            return _emit(map(_scan_chunk, chunks), out)
        # This process is one of the workers: it forks one fewer (each fork costs its memory
        # pages copied as the child first writes them), and scans the first chunk before the
        # fork, so what a first scan loads and compiles is loaded once.
        status = _emit([_scan_chunk(chunks[0])], out)
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(workers - 1, mp_context=context, initializer=_after_fork) as pool:
            return max(status, _emit(_shared(chunks[1:], pool, ahead=2 * (workers - 1)), out))
    finally:
        if worker.loop is not None:
            worker.loop.close()
        _worker = None


def _shared(chunks: list[list[str]], pool: ProcessPoolExecutor, ahead: int) -> Iterator[list[Outcome]]:
    """The outcomes of `chunks` in order, scanned by the pool and by this process: the pool
    is given chunks while fewer than `ahead` of its own are unfinished, and this process
    scans the next one itself meanwhile."""
    pending: deque[Future[list[Outcome]] | list[Outcome]] = deque()
    busy: list[Future[list[Outcome]]] = []
    for chunk in chunks:
        busy = [f for f in busy if not f.done()]
        if len(busy) < ahead:
            future = pool.submit(_scan_chunk, chunk)
            busy.append(future)
            pending.append(future)
        else:
            pending.append(_scan_chunk(chunk))
        while pending and (isinstance(pending[0], list) or pending[0].done()):
            head = pending.popleft()
            yield head if isinstance(head, list) else head.result()
    for head in pending:
        yield head if isinstance(head, list) else head.result()


def _emit(chunks: Iterable[list[Outcome]], out: TextIO) -> int:
    status = 0
    for chunk in chunks:
        for path, line, error in chunk:
            if line is None:
                print(f"privacy-milter: {path}: {error}", file=sys.stderr)
                status = 1
                continue
            out.write(line)
    return status


def explain_files(files: list[Path], policy: Policy, out: TextIO | None = None,
                  specs: Iterable[FilterSpec] | None = None) -> int:
    """Per finding: rule symbol, confidence, part and line, value masked (each filter that
    declares `explain`; by default every filter the registry knows). Exit 1 if unreadable."""
    out = sys.stdout if out is None else out
    if specs is None:
        from .registry import FILTERS
        specs = FILTERS.values()
    explainers = [(spec.explain, policy.settings(spec.name)) for spec in specs if spec.explain is not None]
    status = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            print(f"privacy-milter: {path}: cannot read: {exc.strerror}", file=sys.stderr)
            status = 1
            continue
        explained = [explain(raw, settings) for explain, settings in explainers]
        rows = [row for e in explained for row in e.rows]
        out.write(f"{path}: {len(rows)} finding(s)\n")
        for note in (note for e in explained for note in e.notes):
            out.write(f"  {note}\n")
        for row in rows:
            out.write(row + "\n")
    return status
