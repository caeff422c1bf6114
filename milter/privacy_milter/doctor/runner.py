"""Runs the groups of checks side by side, each in a daemon thread under its own time
bound, so a hung resolver or a silent server costs its own line and never the whole run
(about RUN_BUDGET seconds at most, everything down included)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from .model import Finding, Setup, Status, fail

Group = tuple[str, Callable[[Setup], list[Finding]], float]   # (check name, function, seconds)
RUN_BUDGET = 14.0
EXIT = {Status.OK: 0, Status.WARN: 1, Status.SKIP: 1, Status.FAIL: 2}


def run(setup: Setup, groups: Sequence[Group], budget: float = RUN_BUDGET) -> list[Finding]:
    """Every group's findings, in the groups' order."""
    results: list[list[Finding] | None] = [None] * len(groups)
    errors: list[BaseException | None] = [None] * len(groups)
    threads = []
    for i, (_, fn, _limit) in enumerate(groups):
        def work(i: int = i, fn: Callable[[Setup], list[Finding]] = fn) -> None:
            try:
                results[i] = fn(setup)
            except BaseException as exc:  # reported as that check's failure, never a traceback
                errors[i] = exc
        t = threading.Thread(target=work, name=f"doctor-{groups[i][0]}", daemon=True)
        t.start()
        threads.append(t)
    end = time.monotonic() + budget
    found: list[Finding] = []
    for (name, _, limit), t, i in zip(groups, threads, range(len(groups))):
        t.join(max(0.0, min(limit, end - time.monotonic())) if t.is_alive() else None)
        if t.is_alive():
            found.append(fail(name, f"the check did not finish within {limit:g}s"))
        elif errors[i] is not None:
            exc = errors[i]
            found.append(fail(name, f"the check itself failed: {type(exc).__name__}: {exc}"))
        else:
            found.extend(results[i] or [])
    return found


def exit_code(findings: Sequence[Finding]) -> int:
    return max((EXIT[f.status] for f in findings), default=0)


def write_text(findings: Sequence[Finding], out: TextIO) -> None:
    width = max((len(f.check) for f in findings), default=0)
    for f in findings:
        out.write(f"{f.status.value:4}  {f.check:{width}}  {f.text}\n")
        if f.fix:
            out.write(f"{'':4}  {'':{width}}  fix: {f.fix}\n")
    counts = {s: sum(1 for f in findings if f.status is s) for s in Status}
    out.write(f"doctor: {counts[Status.OK]} ok, {counts[Status.WARN]} warning(s), {counts[Status.FAIL]} "
              f"failure(s), {counts[Status.SKIP]} not checked\n")


def write_json(findings: Sequence[Finding], out: TextIO) -> None:
    json.dump({"exit": exit_code(findings), "checks": [f.as_dict() for f in findings]}, out, indent=1)
    out.write("\n")
