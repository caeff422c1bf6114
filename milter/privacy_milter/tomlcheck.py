"""Strict reading of a parsed TOML document into typed values, with every problem reported.

tomllib gives us a dict and no positions, so a Reader walks the dict with the key path
it is at, records each key it consumed, and reports the rest as unknown. `locate` maps a
key path back to a line of the source text for the error message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_HEADER_RE = re.compile(rf"^\s*\[\[?\s*({_DOTTED})\s*\]\]?")
_ASSIGN_RE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART_RE = re.compile(_KEY)


def _split_dotted(text: str) -> tuple[str, ...]:
    parts = []
    for m in _PART_RE.finditer(text):
        part = m.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return tuple(parts)


def line_index(text: str) -> dict[tuple[str, ...], int]:
    """Map every table header and key assignment path to its first line number (1-based)."""
    index: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        # Skip the insides of multi-line strings: they may contain "x = y" lines.
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            in_multiline = not in_multiline
            continue
        if in_multiline:
            continue
        if m := _HEADER_RE.match(line):
            table = _split_dotted(m.group(1))
            index.setdefault(table, number)
        elif m := _ASSIGN_RE.match(line):
            path = table + _split_dotted(m.group(1))
            index.setdefault(path, number)
            # Inline tables: `a = { b = 1, c = 2 }` puts a.b and a.c on the same line.
            rest = line[m.end():]
            for inner in re.finditer(rf"[{{,]\s*({_KEY})\s*=", rest):
                index.setdefault(path + _split_dotted(inner.group(1)), number)
    return index


def locate(index: dict[tuple[str, ...], int], path: tuple[str, ...]) -> int | None:
    """The line of the longest prefix of `path` that appears in the source."""
    for end in range(len(path), 0, -1):
        if path[:end] in index:
            return index[path[:end]]
    return None


def dotted(path: Iterable[str]) -> str:
    return ".".join(p if re.fullmatch(_BARE, p) else f'"{p}"' for p in path)


class Problems:
    """Collects problems as (path, text) and renders them with line numbers."""

    def __init__(self, source_name: str, text: str) -> None:
        self.source_name = source_name
        self._index = line_index(text)
        self.items: list[tuple[tuple[str, ...], str]] = []

    def add(self, path: tuple[str, ...], text: str) -> None:
        self.items.append((path, text))

    def render(self) -> list[str]:
        out = []
        for path, text in self.items:
            line = locate(self._index, path)
            where = f"{self.source_name}:{line}" if line else self.source_name
            out.append(f"{where}: {dotted(path) or '(top level)'}: {text}")
        return out


_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "a string",
               list: "a list", dict: "a table"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 40 else "a long string"
    return str(value)


class Reader:
    """Typed access to one TOML table. Each getter returns the default when the key is absent
    or wrong (after recording the problem), so one pass reports every problem at once."""

    def __init__(self, data: Any, path: tuple[str, ...], problems: Problems) -> None:
        self.path = path
        self.problems = problems
        if not isinstance(data, dict):
            problems.add(path, f"expected a table, got {_describe(data)}")
            data = {}
        self._data: dict[str, Any] = data
        self._used: set[str] = set()

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def keys(self) -> list[str]:
        return list(self._data)

    def _get(self, key: str, kind: type, default: T) -> T:
        self._used.add(key)
        if key not in self._data:
            return default
        value = self._data[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)  # type: ignore[return-value]
        if not ok:
            self.problems.add(self.path + (key,), f"expected {_TYPE_NAMES[kind]}, got {_describe(value)}")
            return default
        return value

    def string(self, key: str, default: str, choices: Iterable[str] | None = None) -> str:
        value = self._get(key, str, default)
        if choices is not None and key in self._data and value not in choices:
            allowed = ", ".join(sorted(choices))
            self.problems.add(self.path + (key,), f"must be one of {allowed}; got {_describe(value)}")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return self._get(key, bool, default)

    def integer(self, key: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._get(key, int, default)
        return self._bounded(key, value, default, minimum, maximum)

    def number(self, key: str, default: float, minimum: float | None = None,
               maximum: float | None = None) -> float:
        value = self._get(key, float, default)
        return self._bounded(key, value, default, minimum, maximum)

    def _bounded(self, key: str, value: Any, default: Any, minimum: Any, maximum: Any) -> Any:
        if minimum is not None and value < minimum:
            self.problems.add(self.path + (key,), f"must be at least {minimum}; got {value}")
            return default
        if maximum is not None and value > maximum:
            self.problems.add(self.path + (key,), f"must be at most {maximum}; got {value}")
            return default
        return value

    def strings(self, key: str, default: Iterable[str] = (),
                check: Callable[[str], str | None] | None = None) -> tuple[str, ...]:
        """A list of strings; `check` returns a problem text for a bad item, or None."""
        value = self._get(key, list, None)
        if value is None:
            return tuple(default)
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.problems.add(self.path + (key,), f"item {i + 1} must be a string, got {_describe(item)}")
                continue
            problem = check(item) if check else None
            if problem:
                self.problems.add(self.path + (key,), f"item {i + 1} ({_describe(item)}): {problem}")
                continue
            out.append(item)
        return tuple(out)

    def table(self, key: str) -> "Reader":
        self._used.add(key)
        return Reader(self._data.get(key, {}), self.path + (key,), self.problems)

    def problem(self, key: str, text: str) -> None:
        self.problems.add(self.path + ((key,) if key else ()), text)

    def done(self) -> None:
        """Report every key that no getter asked for: a typo must not be silently ignored."""
        for key in self._data:
            if key not in self._used:
                self.problems.add(self.path + (key,), "unknown setting")
