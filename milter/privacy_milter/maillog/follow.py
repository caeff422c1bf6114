"""Follow a log file across rotation and restarts, read whole lines only, count the odd ones.

The position is (device, inode, offset) plus a hash of the file's first bytes, so a file that
was replaced by another with the same inode, or truncated and grown back past our offset
between two polls (copytruncate), is recognised as new. It is saved through a PositionStore
together with the pairer's open sessions, so a TLS line read before a restart still applies
to the delivery line read after it, and nothing is counted twice.

Rotation by rename: the old file is read to its end first (Postfix may write to it until it
reopens its log), then the new one from its start. After a restart the old file is looked for
under the usual rotated names (`mail.log.1`) by inode. Each poll reads at most `max_bytes`:
the lead runs `poll()` in a thread on a schedule; it never blocks waiting for data.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol

from .pair import Delivery, Pairer
from .parse import LineKind, classify_line

log = logging.getLogger("privacy_milter.maillog")

HEAD_BYTES = 256
MAX_BYTES = 1 << 20        # per poll
MAX_LINE = 64 << 10        # a longer "line" is skipped and counted as unparsed
ROTATED = (".1", "-1", ".0")


@dataclass(frozen=True)
class Position:
    dev: int
    inode: int
    offset: int
    head: str                              # sha256 of the file's first head_len bytes
    head_len: int
    sessions: dict[str, Any] = field(default_factory=dict)


class PositionStore(Protocol):
    def load(self) -> Position | None: ...

    def save(self, position: Position) -> None: ...


class MemoryPositionStore:
    def __init__(self) -> None:
        self.position: Position | None = None

    def load(self) -> Position | None:
        return self.position

    def save(self, position: Position) -> None:
        self.position = position


class FilePositionStore:
    """A small JSON file, replaced atomically (write beside it, fsync, rename)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def load(self) -> Position | None:
        try:
            raw = json.loads(self.path.read_text())
            return Position(int(raw["dev"]), int(raw["inode"]), int(raw["offset"]),
                            str(raw["head"]), int(raw["head_len"]), dict(raw.get("sessions", {})))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as e:
            log.warning("maillog position file %s is unreadable (%s); reading the log afresh",
                        self.path, type(e).__name__)
            return None

    def save(self, position: Position) -> None:
        data = json.dumps(position.__dict__, separators=(",", ":")).encode()
        fd, tmp = tempfile.mkstemp(prefix=".maillog-pos.", dir=self.path.parent)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)


@dataclass
class ReadStats:
    lines: int = 0
    deliveries: int = 0
    other: int = 0             # well-formed lines of no interest (smtpd, qmgr, warnings)
    unparsed: int = 0          # garbage, binary, cut or overlong lines
    rotations: int = 0
    truncations: int = 0


def _head(fd: int, n: int) -> str:
    return hashlib.sha256(os.pread(fd, n, 0)).hexdigest()


class LogFollower:
    def __init__(self, path: Path | str, store: PositionStore, *,
                 policy_for: Callable[[str], str] | None = None, tz: tzinfo | None = None,
                 now: Callable[[], datetime] | None = None, max_bytes: int = MAX_BYTES,
                 max_line: int = MAX_LINE, from_start: bool = True,
                 rotated_suffixes: Sequence[str] = ROTATED) -> None:
        self.path = Path(path)
        self.store = store
        self.pairer = Pairer(policy_for)
        self.stats = ReadStats()
        self._tz = tz
        self._now = now or (lambda: datetime.now(tz).astimezone(tz))
        self._max_bytes = max_bytes
        self._max_line = max_line
        self._from_start = from_start
        self._suffixes = tuple(rotated_suffixes)
        self._fd: int | None = None
        self._id = (0, 0)
        self._offset = 0
        self._head_len = 0
        self._head = ""
        self._skipping = False     # inside an overlong line: drop bytes up to its newline
        self._draining = False     # the open file was rotated away: read it to its end
        self._saved: Position | None = None

    # --- public ---------------------------------------------------------------------------
    def poll(self, commit: bool = True) -> list[Delivery]:
        """Deliveries completed since the last poll (at most `max_bytes` read). With
        commit=False the position is saved only by commit(), after the caller stored them."""
        out: list[Delivery] = []
        budget = self._max_bytes
        if self._fd is None and not self._open_at_start():
            return out
        self._check_truncated()
        for _ in range(4):           # old file, then the new one; bounded
            budget -= self._read(budget, out)
            if budget <= 0 or not self._switch_if_rotated():
                break
        if commit:
            self.commit()
        return out

    def commit(self) -> None:
        if self._fd is None:
            return
        position = Position(self._id[0], self._id[1], self._offset, self._head, self._head_len,
                            self.pairer.snapshot())
        if position != self._saved:           # an idle poll writes nothing
            self.store.save(position)
            self._saved = position

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    # --- opening --------------------------------------------------------------------------
    def _open(self, path: Path) -> os.stat_result | None:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return None
        self.close()
        self._fd = fd
        st = os.fstat(fd)
        self._id = (st.st_dev, st.st_ino)
        self._offset, self._head_len, self._head, self._skipping = 0, 0, "", False
        return st

    def _matches(self, pos: Position, st: os.stat_result) -> bool:
        assert self._fd is not None
        return ((st.st_dev, st.st_ino) == (pos.dev, pos.inode) and st.st_size >= pos.offset
                and pos.head_len <= st.st_size and _head(self._fd, pos.head_len) == pos.head)

    def _resume(self, pos: Position) -> None:
        self._offset, self._head, self._head_len = pos.offset, pos.head, pos.head_len
        self.pairer.restore(pos.sessions)

    def _open_at_start(self) -> bool:
        pos = self.store.load()
        if pos is not None:
            for suffix in self._suffixes:   # rotated while we were down: finish the old one
                old = self.path.with_name(self.path.name + suffix)
                st = self._open(old)
                if st is not None and self._matches(pos, st):
                    self._resume(pos)
                    self._draining = True
                    return True
            self.close()                    # a candidate that did not match is not ours
        st = self._open(self.path)
        if st is None:
            return False
        if pos is not None and self._matches(pos, st):
            self._resume(pos)
        elif pos is None and not self._from_start:
            self._offset = st.st_size - self._tail_fragment(st.st_size)
            self._update_head()
        return True

    def _tail_fragment(self, size: int) -> int:
        """Bytes after the last newline: starting at the end, we start with the line being
        written, so that it is read whole once its end arrives."""
        assert self._fd is not None
        tail = os.pread(self._fd, min(size, self._max_line), max(0, size - self._max_line))
        return len(tail) - tail.rfind(b"\n") - 1 if b"\n" in tail else 0

    def _check_truncated(self) -> None:
        """copytruncate: the file we hold got shorter, or its first bytes changed."""
        assert self._fd is not None
        if self._draining:
            return
        size = os.fstat(self._fd).st_size
        if size < self._offset or (self._head_len and _head(self._fd, self._head_len) != self._head):
            self.stats.truncations += 1
            log.info("maillog %s was truncated; reading it from the start", self.path)
            self._offset, self._head_len, self._head, self._skipping = 0, 0, "", False

    def _switch_if_rotated(self) -> bool:
        """True when there is more to read now: the old file to its end, then the new file."""
        assert self._fd is not None
        if not self._draining:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                return False                  # renamed, new one not yet created: keep reading
            if (st.st_dev, st.st_ino) == self._id:
                return False
            self._draining = True
            return True                       # read the old file to its end first
        if self._open(self.path) is None:
            return False
        self._draining = False
        self.stats.rotations += 1
        log.info("maillog %s was rotated; following the new file", self.path)
        return True

    # --- reading --------------------------------------------------------------------------
    def _read(self, budget: int, out: list[Delivery]) -> int:
        """Read whole lines from the offset; returns the bytes consumed from the budget."""
        assert self._fd is not None
        data = os.pread(self._fd, max(0, budget), self._offset)
        at_eof = len(data) < budget
        used = 0
        if self._skipping:
            nl = data.find(b"\n")
            if nl < 0:
                self._advance(len(data))
                return len(data)
            self._skipping = False
            self._advance(nl + 1)
            used, data = nl + 1, data[nl + 1:]
        last = data.rfind(b"\n")
        if last >= 0:
            for raw in data[:last + 1].split(b"\n")[:-1]:
                self._line(raw, out)
            self._advance(last + 1)
            used += last + 1
        rest = len(data) - last - 1
        if rest >= self._max_line or (self._draining and at_eof and rest):
            # an overlong line, or the cut last line of a file nobody writes to any more
            self.stats.lines += 1
            self.stats.unparsed += 1
            self._skipping = rest >= self._max_line and not self._draining
            self._advance(rest)
            used += rest
        return used

    def _advance(self, n: int) -> None:
        self._offset += n
        self._update_head()

    def _update_head(self) -> None:
        if self._head_len < HEAD_BYTES and self._offset > self._head_len and self._fd is not None:
            self._head_len = min(self._offset, HEAD_BYTES)
            self._head = _head(self._fd, self._head_len)

    def _line(self, raw: bytes, out: list[Delivery]) -> None:
        self.stats.lines += 1
        kind, event = classify_line(raw, now=self._now(), tz=self._tz)
        if kind is LineKind.UNPARSED:
            self.stats.unparsed += 1
        elif event is None:
            self.stats.other += 1
        elif (d := self.pairer.feed(event)) is not None:
            self.stats.deliveries += 1
            out.append(d)
