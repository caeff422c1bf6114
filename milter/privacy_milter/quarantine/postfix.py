"""Postfix's queue as the quarantine sees it: `postqueue -j` (any user), `postcat -e` (the
envelope: its content_filter record says how a held message will leave), `postsuper -H` /
`-d ID hold` (root only) and `postqueue -i` (deliver now).

Every command is bounded in time and run with `-c` the configured directory, so a host with
several Postfix instances is asked about the right one. `postsuper -d ID hold` deletes only
from the hold queue: a message released a moment earlier (now in deferred or active) is
never deleted by an expiry that listed it as held.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import PrivacyMilterError

POSTQUEUE = "/usr/sbin/postqueue"
POSTCAT = "/usr/sbin/postcat"
POSTSUPER = "/usr/sbin/postsuper"
TIMEOUT = 60.0
# Postfix queue ids: short (hex) or long (base-52 with a Z) form.
QUEUE_ID = re.compile(r"^[0-9A-Za-z]{6,20}$")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


class QueueError(PrivacyMilterError):
    """A Postfix queue command failed; the text names the command and Postfix's own words."""


@dataclass(frozen=True)
class QueueEntry:
    """One message in Postfix's queue, as `postqueue -j` lists it (addresses included: they
    are shown to the admin, never stored or logged by this module)."""

    queue_id: str
    queue_name: str          # hold, incoming, active, deferred, maildrop
    arrival_time: float
    size: int
    sender: str
    recipients: tuple[str, ...]


def run_command(argv: Sequence[str]) -> "subprocess.CompletedProcess[str]":
    try:
        return subprocess.run(list(argv), capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise QueueError(f"{argv[0]} did not answer within {TIMEOUT:g}s") from None
    except OSError as exc:
        raise QueueError(f"cannot run {argv[0]}: {exc.strerror}") from None


def config_dir(configured: str) -> str:
    """[quarantine] postfix_config, else $MAIL_CONFIG (as Postfix's own commands), else /etc/postfix."""
    return configured or os.environ.get("MAIL_CONFIG", "") or "/etc/postfix"


def check_queue_id(queue_id: str) -> str:
    if not QUEUE_ID.match(queue_id):
        raise QueueError(f'"{queue_id}" is not a Postfix queue id (such as 3168320C7EA, from `quarantine list`)')
    return queue_id


class PostfixQueue:
    def __init__(self, config: str = "", runner: Runner = run_command) -> None:
        self.config = config_dir(config)
        self._run = runner

    def _ok(self, argv: list[str]) -> str:
        proc = self._run(argv)
        if proc.returncode != 0:
            words = (proc.stderr or proc.stdout).strip().splitlines()
            raise QueueError(f"{' '.join(argv[:1] + argv[3:])} failed (exit {proc.returncode}): "
                             f"{words[-1] if words else 'no message'}")
        return proc.stdout

    def entries(self) -> list[QueueEntry]:
        """Every queued message (all queues); hold is the quarantine."""
        out = self._ok([POSTQUEUE, "-c", self.config, "-j"])
        return [_entry(json.loads(line)) for line in out.splitlines() if line.strip()]

    def held(self) -> list[QueueEntry]:
        return [e for e in self.entries() if e.queue_name == "hold"]

    def find(self, queue_id: str) -> QueueEntry | None:
        return next((e for e in self.entries() if e.queue_id == queue_id), None)

    def content_filter(self, queue_id: str) -> str | None:
        """The FILTER recorded in the queue file (milter_header_checks set it at cleanup; it
        survives `postsuper -H`), or None. postcat prints it as `content_filter: T:NEXTHOP`."""
        out = self._ok([POSTCAT, "-c", self.config, "-e", "-q", queue_id])
        found = re.search(r"^content_filter: (\S+)", out, re.M)
        return found.group(1) if found else None

    def release(self, queue_id: str) -> bool:
        """`postsuper -H ID`: True if Postfix released it (False: it was not on hold)."""
        proc = self._run([POSTSUPER, "-c", self.config, "-H", queue_id])
        return self._changed(proc, "released from hold")

    def delete(self, queue_id: str) -> bool:
        """`postsuper -d ID hold`: deleted only if still on hold. True if Postfix deleted it."""
        proc = self._run([POSTSUPER, "-c", self.config, "-d", queue_id, "hold"])
        return self._changed(proc, "removed")

    def deliver_now(self, queue_id: str) -> None:
        """`postqueue -i ID`: a released message goes now, not at the next queue run."""
        self._run([POSTQUEUE, "-c", self.config, "-i", queue_id])

    def _changed(self, proc: "subprocess.CompletedProcess[str]", what: str) -> bool:
        text = (proc.stderr or "") + (proc.stdout or "")
        if proc.returncode != 0:
            words = text.strip().splitlines()
            hint = " (postsuper needs root: run it with sudo or as root)" if "ermission" in text else ""
            raise QueueError(f"postsuper failed (exit {proc.returncode}): {words[-1] if words else ''}{hint}")
        return bool(re.search(rf": {what}\b", text, re.I))


def _entry(obj: dict[str, Any]) -> QueueEntry:
    rcpts = obj.get("recipients") or []
    return QueueEntry(queue_id=str(obj.get("queue_id", "")), queue_name=str(obj.get("queue_name", "")),
                      arrival_time=float(obj.get("arrival_time", 0) or 0),
                      size=int(obj.get("message_size", 0) or 0),
                      sender=str(obj.get("sender", "")),
                      recipients=tuple(str(r.get("address", "")) for r in rcpts if isinstance(r, dict)))
