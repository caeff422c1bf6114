"""Import rules. pymilter owns the top-level names `milter` and `Milter`: nothing of ours may
shadow them. And the seam between the core (milter/privacy_milter) and the checks
(filters/privacy_filters) holds (issue 25): the core imports the filters only through
registry.py, a filter reaches the core only through plugin, model, services and tomlcheck,
no filter imports another filter, and there is no import circle. The graph is read from the
source with `ast` (every import at any depth, TYPE_CHECKING and function-level ones too:
a hidden dependency is still one)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORE, CHECKS = "privacy_milter", "privacy_filters"
SOURCES = {CORE: ROOT / "milter" / CORE, CHECKS: ROOT / "filters" / CHECKS}

# The only core module that imports filters: the list of checks this build knows.
REGISTRY = f"{CORE}.registry"
# What a filter may import of the core: the seam, the values, the services, the settings reader.
SEAM = frozenset({f"{CORE}.plugin", f"{CORE}.model", f"{CORE}.services", f"{CORE}.tomlcheck"})
# TEMPORARY: `privacy-milter doctor` (milter/privacy_milter/doctor/, merged into main while
# the seam was built) checks DKIM records and the flagged-mail route by importing the dkim
# and tls filters' modules. These imports are tolerated by name until doctor's filter checks
# move behind the filters' declarations (a FilterSpec hook); no other core module may.
DOCTOR_IMPORTS = frozenset({
    ("privacy_milter.doctor.dkim_checks", "privacy_filters.dkim.cli"),
    ("privacy_milter.doctor.dkim_checks", "privacy_filters.dkim"),
    ("privacy_milter.doctor.postfix_checks", "privacy_filters.relayhost"),
})
# TEMPORARY: import circles inside dlp/ that belong to the DLP engineer, who is rewriting
# the detectors there (issue 25). A circle among these modules is tolerated; any other, or
# one that takes in a module outside these sets, fails. Remove an entry once it is gone.
KNOWN_DLP_CIRCLES = (
    frozenset({"privacy_filters.dlp.extract", "privacy_filters.dlp.mime", "privacy_filters.dlp.fastmime",
               "privacy_filters.dlp.pdftext",
               # issue 29 (archives: gzip/tar read by the same walk) joined this circle, not a new one
               "privacy_filters.dlp.archives"}),
    frozenset({"privacy_filters.dlp.patterns", "privacy_filters.dlp.described", "privacy_filters.dlp.temporary"}),
)


def test_milter_is_pymilters_c_module():
    spec = importlib.util.find_spec("milter")
    assert spec is not None and spec.origin is not None
    assert spec.origin.endswith(".so"), spec.origin


def test_no_package_named_milter_or_filters_in_the_repo():
    assert not (ROOT / "milter" / "__init__.py").exists()
    assert not (ROOT / "filters" / "__init__.py").exists()


def test_import_from_repo_root_works():
    out = subprocess.run([sys.executable, "-c", "import Milter, milter, privacy_milter, privacy_filters; print('ok')"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- the graph ---------------------------------------------------------------------------------

def _modules() -> dict[str, Path]:
    found = {}
    for package, folder in SOURCES.items():
        for path in folder.rglob("*.py"):
            parts = (package, *path.relative_to(folder).with_suffix("").parts)
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _imported(name: str, path: Path) -> Iterator[str]:
    """The project modules `name` imports: `from a import b` is a.b when that is a module."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                yield target


GRAPH = {name: set(_imported(name, path)) for name, path in MODULES.items()}


def _entry_modules() -> set[str]:
    """The filters' own modules: those that define `SPEC = FilterSpec(...)`."""
    entries = set()
    for name, path in MODULES.items():
        if name.startswith(CHECKS) and "SPEC = FilterSpec(" in path.read_text(encoding="utf-8"):
            entries.add(name)
    return entries


def _circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(component)
    return found


# --- the rules ---------------------------------------------------------------------------------

def test_the_graph_is_read():
    """The rules below are only as good as the graph: it has the modules and the edges we know."""
    assert len(MODULES) > 100 and f"{CORE}.plugin" in MODULES and f"{CHECKS}.dlp_filter" in MODULES
    assert f"{CHECKS}.dlp_filter" in GRAPH[REGISTRY] and f"{CORE}.plugin" in GRAPH[f"{CHECKS}.tls"]
    assert _entry_modules() >= {f"{CHECKS}.{n}" for n in ("dlp_filter", "tls", "virus", "spam", "dkim_filter")}


def test_only_the_registry_imports_filters():
    wrong = sorted((name, target) for name, targets in GRAPH.items() if name.startswith(CORE) and name != REGISTRY
                   for target in targets if target.startswith(CHECKS) and (name, target) not in DOCTOR_IMPORTS)
    assert wrong == [], "core modules importing filters (go through registry/plugin declarations): " + str(wrong)


def test_filters_reach_the_core_only_through_the_seam():
    wrong = sorted((name, target) for name, targets in GRAPH.items() if name.startswith(CHECKS)
                   for target in targets if target.startswith(CORE) and target not in SEAM | {CORE})
    assert wrong == [], f"filter modules importing the core outside {sorted(SEAM)}: {wrong}"


def test_no_filter_imports_another_filter():
    """Neither another filter's own module (one with a SPEC) nor the package that filter
    owns (dlp/ is dlp_filter's, dkim/ dkim_filter's): shared code lives in a helper module
    that imports no filter (words.py, scanner_client.py, optin_scanner.py)."""
    entries = _entry_modules()
    wrong = sorted((name, target) for name, targets in GRAPH.items() if name.startswith(CHECKS)
                   for target in targets if target in entries and target != name)
    assert wrong == [], f"filters importing another filter: {wrong}"
    for package in {n.rsplit(".", 1)[0] for n in MODULES if n.count(".") == 2 and n.startswith(CHECKS)}:
        outside = {name for name, targets in GRAPH.items() if not name.startswith(package + ".")
                   and name != package and any(t == package or t.startswith(package + ".") for t in targets)
                   and not any((name, t) in DOCTOR_IMPORTS for t in targets)}
        assert len(outside) <= 1 and outside <= entries, f"{package} is imported from {sorted(outside)}"


def test_no_import_circles_but_the_known_dlp_ones():
    new = [sorted(c) for c in _circles(GRAPH) if not any(c <= known for known in KNOWN_DLP_CIRCLES)]
    assert new == [], f"import circles: {new}"


def test_the_guard_sees_a_circle():
    """The circle finder can fail: a made-up edge from plugin to a filter closes a circle."""
    graph = {name: set(targets) for name, targets in GRAPH.items()}
    graph[f"{CORE}.plugin"].add(f"{CHECKS}.tls")
    assert any({f"{CORE}.plugin", f"{CHECKS}.tls"} <= c for c in _circles(graph))
    assert not _circles({"a": {"b"}, "b": {"c"}, "c": set()})


MAX_LINES = 400      # a module a newcomer reads in one sitting (issue 25)
MAX_POLICY_LINES = 300
# Over the limit, named so that nothing else may be, and so the next DLP step splits them: they
# came with issues 24 and 29 from branches cut before this guard existed (issue 25 stays open).
KNOWN_LARGE = {"privacy_filters.dlp.candidates": 650, "privacy_filters.dlp.mime": 430}


def test_modules_stay_small():
    """No module over 400 lines, and policy.py under 300 (its sections live beside it)."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {n: lines for n, lines in sizes.items() if lines > KNOWN_LARGE.get(n, MAX_LINES)} == {}
    assert sizes[f"{CORE}.policy"] < MAX_POLICY_LINES
