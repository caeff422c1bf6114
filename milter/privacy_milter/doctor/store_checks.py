"""The store: reachable and writable by the daemon user; the address key: present, the
daemon user's alone, and the key the store was created with (its fingerprint). Nothing is
created or changed: a store or key that does not exist yet is said, not made."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ..policy import StoreSettings
from ..store.base import AddressHasher
from ..store.schema import GET_META, KEY_NAME
from .access import User, mode_text, not_writable, owner_text
from .milter_checks import daemon_user
from .model import Finding, Setup, fail, ok, skip, warn

STORE, KEY = "store", "address key"
TIMEOUT = 3.0


def check(setup: Setup) -> list[Finding]:
    if setup.policy is None:
        return [skip(STORE, "could not check: the policy does not parse"),
                skip(KEY, "could not check: the policy does not parse")]
    settings = setup.policy.store
    user = daemon_user(setup)
    store_line, stored = (_sqlite(settings.path, user) if settings.backend == "sqlite"
                          else _postgresql(settings))
    return [store_line, _key(settings, user, stored, store_line)]


def _sqlite(path: Path, user: User | None) -> tuple[Finding, str | None]:
    """The store line and the key fingerprint the store holds (None: none, or unknown)."""
    try:
        path.stat()
    except FileNotFoundError:
        if user is not None and not_writable(user, [path.parent]):
            return fail(STORE, f"no store at {path}, and the daemon user {user.name} cannot create it in "
                               f"{path.parent} ({owner_text(path.parent.stat())})",
                        f"chown {user.name}: {path.parent}"), None
        return warn(STORE, f"no store at {path} yet: the daemon creates it at its first start",
                    "systemctl start privacy-milter"), None
    except OSError as exc:
        return fail(STORE, f"cannot stat {path}: {exc.strerror}"), None
    if user is not None and (blocked := not_writable(user, _sqlite_files(path))):
        return fail(STORE, f"the daemon user {user.name} cannot write " + ", ".join(
                        f"{p} ({owner_text(p.stat())}, mode {mode_text(p.stat())})" for p in blocked)
                    + " (left by an earlier run as root?): the daemon cannot start or keep records",
                    f"chown -R {user.name}: {path.parent}"), None
    try:
        db = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=TIMEOUT, isolation_level=None)
        try:
            row = db.execute(GET_META, (KEY_NAME,)).fetchone()
            db.execute("BEGIN IMMEDIATE")   # takes the write lock: writable, and no writer stuck
            db.execute("ROLLBACK")
        finally:
            db.close()
    except sqlite3.Error as exc:
        return fail(STORE, f"{path}: {exc} (not a privacy-milter store, or locked by a stuck writer)",
                    "journalctl -u privacy-milter"), None
    return ok(STORE, f"sqlite {path} opens and takes a write lock"), (row[0] if row else None)


def _sqlite_files(path: Path) -> list[Path]:
    """The directory and files SQLite writes for a WAL store."""
    return [path.parent, path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]


def _postgresql(settings: StoreSettings) -> tuple[Finding, str | None]:
    import psycopg  # only for a PostgreSQL store

    try:
        with psycopg.connect(settings.conninfo, connect_timeout=max(1, int(min(settings.connect_timeout,
                                                                               TIMEOUT)))) as conn:
            row = conn.execute(GET_META.replace("?", "%s"), (KEY_NAME,)).fetchone()
            can = conn.execute("SELECT has_table_privilege('messages', 'INSERT')").fetchone()
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return fail(STORE, f"postgresql: {first}", "check [store] conninfo and the passfile; psql with the "
                                                    "same conninfo"), None
    if not (can and can[0]):
        return fail(STORE, "postgresql: the store's user may not insert into messages",
                    "GRANT INSERT ON ALL TABLES IN SCHEMA public TO <the store's user>"), None
    return ok(STORE, "postgresql store reachable and writable"), (row[0] if row else None)


def _key(settings: StoreSettings, user: User | None, stored: str | None, store_line: Finding) -> Finding:
    path = settings.key_file
    try:
        st = path.stat()
    except FileNotFoundError:
        if stored is not None:
            return fail(KEY, f"{path} is missing, but the store was made with a key: subject-access requests "
                             "cannot find anyone, and the daemon refuses to start",
                        f"restore {path} from the backup of this store")
        return warn(KEY, f"no key at {path} yet: the daemon creates it (0600) at its first start",
                    "systemctl start privacy-milter")
    except OSError as exc:
        return fail(KEY, f"cannot stat {path}: {exc.strerror}")
    if st.st_mode & 0o077:
        return fail(KEY, f"{path} is readable or writable by group or others (mode {mode_text(st)}): anyone "
                         "who can read it can tell whose address a record holds", f"chmod 600 {path}")
    if user is not None and st.st_uid != user.uid:
        return fail(KEY, f"{path} belongs to {owner_text(st)}, not the daemon user {user.name}: the daemon "
                         "cannot read it", f"chown {user.name}: {path}")
    try:
        fingerprint = AddressHasher(path.read_bytes()).fingerprint()
    except PermissionError:
        return skip(KEY, f"could not read {path} (run doctor as root)")
    except Exception as exc:  # StoreError (too short) or OSError: said, never the key
        return fail(KEY, f"{path}: {getattr(exc, 'strerror', None) or exc}")
    if stored is not None and stored != fingerprint:
        return fail(KEY, f"{path} is not the key the store was created with (fingerprints differ): the daemon "
                         "refuses to start", f"restore the key that belongs to the store (keep {path} aside "
                                             "first); never start a store over with a new key")
    owner = f"owner {owner_text(st)}, mode {mode_text(st)}"
    if stored is None and store_line.status.value == "ok":
        return ok(KEY, f"{path} ({owner}); the store holds no fingerprint yet")
    if stored is None:
        return ok(KEY, f"{path} ({owner}); could not compare with the store")
    return ok(KEY, f"{path} ({owner}) matches the store's fingerprint")
