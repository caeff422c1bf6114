"""Who may open a file: Postfix's user for the milter socket, the daemon user for its key
and store. Checked from the modes and owners, as the kernel would (root excepted), so
doctor can say it without becoming those users."""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

DAEMON_USER = "privacy-milter"   # the systemd unit's User= (deploy/systemd)


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gids: frozenset[int]   # primary and supplementary groups

    @classmethod
    def named(cls, name: str) -> "User | None":
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            return None
        groups = {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
        return cls(name, pw.pw_uid, frozenset(groups | {pw.pw_gid}))

    @classmethod
    def by_uid(cls, uid: int) -> "User | None":
        try:
            return cls.named(pwd.getpwuid(uid).pw_name)
        except KeyError:
            return None

    def group_names(self) -> str:
        return ", ".join(sorted(_group_name(g) for g in self.gids))


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def owner_text(st: os.stat_result) -> str:
    try:
        user = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        user = str(st.st_uid)
    return f"{user}:{_group_name(st.st_gid)}"


def allows(user: User, st: os.stat_result, want: int) -> bool:
    """Whether `user` has the permission bits `want` (4 read, 2 write, 1 search/execute)."""
    if user.uid == 0:
        return True
    if st.st_uid == user.uid:
        return (st.st_mode >> 6) & want == want
    if st.st_gid in user.gids:
        return (st.st_mode >> 3) & want == want
    return st.st_mode & want == want


def blocked_parent(user: User, path: Path) -> Path | None:
    """The first directory above `path` that `user` cannot search, or None."""
    for parent in reversed(path.parents):
        try:
            st = parent.stat()
        except OSError:
            return parent
        if not allows(user, st, 1):
            return parent
    return None


def mode_text(st: os.stat_result) -> str:
    return f"{stat.S_IMODE(st.st_mode):04o}"


def not_writable(user: User, paths: list[Path]) -> list[Path]:
    """The paths among `paths` that exist and that `user` cannot write (a directory: add
    and remove files in it), e.g. files an earlier run as root left behind."""
    blocked = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        want = 3 if stat.S_ISDIR(st.st_mode) else 6
        if not allows(user, st, want):
            blocked.append(path)
    return blocked
