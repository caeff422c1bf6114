"""What a check says: one line per check, ok / warn / fail / skip (could not check), what
is wrong and the command that fixes it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..policy import Policy


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"   # could not check (a prerequisite failed, or nothing to check it with)


@dataclass(frozen=True)
class Finding:
    check: str          # a short stable name: "milter socket", "postfix macros", ...
    status: Status
    text: str           # what was found, in words an admin acts on
    fix: str = ""       # the command (or setting) that fixes it; empty when ok

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "status": self.status.value, "text": self.text, "fix": self.fix}


def ok(check: str, text: str) -> Finding:
    return Finding(check, Status.OK, text)


def warn(check: str, text: str, fix: str = "") -> Finding:
    return Finding(check, Status.WARN, text, fix)


def fail(check: str, text: str, fix: str = "") -> Finding:
    return Finding(check, Status.FAIL, text, fix)


def skip(check: str, text: str) -> Finding:
    return Finding(check, Status.SKIP, text)


@dataclass(frozen=True)
class Setup:
    """What every group of checks is handed: the policy (None when it does not parse), its
    file, and Postfix's configuration directory (None: postconf's own default, which
    honours $MAIL_CONFIG)."""

    policy_path: Path
    policy: Policy | None
    postfix_dir: Path | None
    daemon_user: str | None = None   # --user; None: the milter socket's owner, else privacy-milter

    def postfix_main_cf(self) -> Path:
        import os

        base = self.postfix_dir or Path(os.environ.get("MAIL_CONFIG") or "/etc/postfix")
        return base / "main.cf"

    def settings(self, name: str) -> Any:
        assert self.policy is not None
        return self.policy.settings(name)
