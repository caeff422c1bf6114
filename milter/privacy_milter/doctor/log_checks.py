"""The delivery-log reader's file ([summary] maillog): there, readable by the daemon user,
and written to recently (Postfix is logging there); its read position advancing."""

from __future__ import annotations

import os
import time

from .access import allows, mode_text, not_writable, owner_text
from .milter_checks import daemon_user
from .model import Finding, Setup, fail, ok, skip, warn

MAILLOG = "delivery log"
QUIET_HOURS = 24   # a mail server logs something (anvil statistics, deliveries) far more often


def check(setup: Setup, now: float | None = None) -> list[Finding]:
    if setup.policy is None:
        return [skip(MAILLOG, "could not check: the policy does not parse")]
    summary = setup.policy.summary
    if not summary.maillog:
        return [ok(MAILLOG, "not used: [summary] maillog is empty (outbound figures are not reported)")]
    now = time.time() if now is None else now
    path = summary.maillog
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return [fail(MAILLOG, f"{path} does not exist: Debian 12's Postfix logs to the journal unless "
                              "maillog_file is set (or rsyslog installed)",
                     f"postconf -e maillog_file={path} && postfix reload (docs/SUMMARY.md)")]
    except OSError as exc:
        return [fail(MAILLOG, f"cannot stat {path}: {exc.strerror}")]
    user = daemon_user(setup)
    if user is not None and not allows(user, st, 4):
        return [fail(MAILLOG, f"{path} (owner {owner_text(st)}, mode {mode_text(st)}) is not readable by the "
                              f"daemon user {user.name}", f"usermod -a -G adm {user.name} (or chmod g+r {path})")]
    age_h = (now - st.st_mtime) / 3600
    if age_h > QUIET_HOURS:
        return [warn(MAILLOG, f"{path} was last written {age_h:.0f} hours ago: is Postfix still logging there "
                              "(maillog_file, rsyslog)?", "postconf maillog_file; systemctl status rsyslog")]
    if user is not None and (blocked := not_writable(user, [summary.maillog_state.parent,
                                                           summary.maillog_state])):
        return [fail(MAILLOG, f"the daemon user {user.name} cannot write the reader's position "
                              f"{', '.join(map(str, blocked))} (left by an earlier run as root?)",
                     f"chown {user.name}: {' '.join(map(str, blocked))}")]
    followed = _position(summary.maillog_state, now)
    return [ok(MAILLOG, f"{path} last written {_ago(now - st.st_mtime)}; {followed}")]


def _position(state: object, now: float) -> str:
    try:
        st = os.stat(str(state))
    except OSError:
        return f"no read position at {state} yet (the daemon writes it once it has read the log)"
    return f"read position {state} saved {_ago(now - st.st_mtime)}"


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"
