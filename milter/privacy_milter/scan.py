"""`privacy-milter scan`: the content checks, offline, over .eml files or directories.

Messages are independent, so a large run is spread over one worker process per core
(the scan is CPU work; threads would share one interpreter lock). Output keeps the
order of the input. Each worker loads the policy itself: policies are built once per
process, never pickled.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from .model import Direction, DirectionDecision, Message, Session
from .pipeline import Pipeline
from .policy import Policy

PARALLEL_FROM = 64  # fewer files than this are scanned in this process: workers cost a fork each

# Per worker process: the policy, its pipeline and an event loop (set by _init_worker).
_worker: tuple[Policy, Pipeline, asyncio.AbstractEventLoop] | None = None


def eml_files(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.eml") if p.is_file())
        else:
            yield path


def _init_worker(policy_loader: Callable[[], Policy]) -> None:
    global _worker
    from .registry import build_pipeline

    policy = policy_loader()
    _worker = (policy, build_pipeline(policy, content_only=True), asyncio.new_event_loop())


Outcome = tuple[str, dict[str, Any] | None, str | None]  # (path, result, error text)

CHUNK = 32  # files per task: one event-loop run and one round trip to a worker each


def _scan_chunk(paths: list[str]) -> list[Outcome]:
    assert _worker is not None
    _, _, loop = _worker
    return loop.run_until_complete(_scan_all(paths))


async def _scan_all(paths: list[str]) -> list[Outcome]:
    return [await _scan_one(path) for path in paths]


async def _scan_one(path: str) -> Outcome:
    """The result has findings, action and failed filters."""
    assert _worker is not None
    policy, pipeline, _ = _worker
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return path, None, f"cannot read: {exc.strerror}"
    message = Message.from_bytes(raw, Session(connection_id="scan"))
    message.direction = DirectionDecision(Direction.OUTBOUND, "scan")
    try:
        pipeline.prepare(message, policy)  # the scan itself, here rather than in a thread
        verdict = await pipeline.run(message, policy)
    finally:
        message.close()
    return path, {
        "findings": [{"category": f.category, "confidence": f.confidence.label, "count": f.count,
                      "rules": list(f.rules)} for f in verdict.findings],
        "action": verdict.action.label,
        "failed": [r.filter for r in verdict.results if r.error],
    }, None


def _write(out: TextIO, path: str, result: dict[str, Any], as_json: bool) -> None:
    failed = result.pop("failed")
    if as_json:
        record = {"path": path, **result}
        if failed:
            record["failed"] = failed
        out.write(json.dumps(record) + "\n")
        return
    summary = ", ".join(f"{f['category']}={f['count']} ({f['confidence']})" for f in result["findings"])
    out.write(f"{path}: {result['action']}: {summary or 'nothing found'}"
              f"{' (failed: ' + ', '.join(failed) + ')' if failed else ''}\n")


def scan_files(files: list[Path], policy_loader: Callable[[], Policy], as_json: bool, out: TextIO = sys.stdout,
               workers: int | None = None) -> int:
    """Scan `files` with the policy `policy_loader()` returns; exit status 1 if one was unreadable."""
    if workers is None:
        workers = min(os.cpu_count() or 1, 8) if len(files) >= PARALLEL_FROM else 1
    names = [str(f) for f in files]
    chunks = [names[i:i + CHUNK] for i in range(0, len(names), CHUNK)]
    if workers <= 1:
        _init_worker(policy_loader)
        return _emit(map(_scan_chunk, chunks), out, as_json)
    # fork: the workers start with everything already imported.
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker,
                             initargs=(policy_loader,)) as pool:
        return _emit(pool.map(_scan_chunk, chunks), out, as_json)


def _emit(chunks: Iterable[list[Outcome]], out: TextIO, as_json: bool) -> int:
    status = 0
    for path, result, error in (outcome for chunk in chunks for outcome in chunk):
        if result is None:
            print(f"privacy-milter: {path}: {error}", file=sys.stderr)
            status = 1
            continue
        _write(out, path, result, as_json)
    return status


def explain_files(files: list[Path], policy: Policy, out: TextIO = sys.stdout) -> int:
    """Per finding: rule symbol, confidence, part and line, value masked. Exit 1 if unreadable."""
    from privacy_filters.dlp import Limits
    from privacy_filters.dlp.explain import explain

    dlp = policy.settings("dlp")
    limits = Limits(max_message_bytes=getattr(dlp, "max_message_bytes"))
    table = getattr(dlp, "modulus_table")
    status = 0
    for path in files:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            print(f"privacy-milter: {path}: cannot read: {exc.strerror}", file=sys.stderr)
            status = 1
            continue
        rows = explain(raw, limits, table)
        out.write(f"{path}: {len(rows)} finding(s)\n")
        for e in rows:
            out.write(f"  {e.rule:30} {e.confidence.label:6} {e.where} (part {e.part}) "
                      f"line {e.line}: {e.shown}\n")
    return status
