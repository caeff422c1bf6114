"""`privacy-milter postfix-setup`: the Postfix lines of docs/DEPLOY.md, printed or applied.

The lines come from the snippet files in deploy/postfix/ (installed by the package under
/usr/share/privacy-milter/postfix), so docs, package and this command share one source.
They are merged with what Postfix already has rather than written over it:

- milter lists (`smtpd_milters`, `non_smtpd_milters`) and lookup-table lists
  (`smtp_tls_policy_maps`, `milter_header_checks`): ours is put FIRST and the others are
  kept. First, because Postfix hands each milter the message as the ones before it left it:
  a signer (OpenDKIM, rspamd) after privacy-milter signs privacy-milter's added headers, and
  mail privacy-milter refuses never reaches the others;
- macro lists (`milter_*_macros`): the union, the current ones (another milter may need
  them) first, ours appended;
- every other parameter: our value (`milter_default_action = tempfail` is a privacy
  promise: mail is deferred, not passed unchecked, when the milter is down).

Writes go through `postconf -e` / `-M -e` / `-P -e` (Postfix's own editor) after a dated
backup of main.cf and master.cf; a parameter or service already as wanted is not written,
so a second run changes nothing. `--undo` puts the backed-up files back byte for byte and
removes the files the run created.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import postconf
from .postfix_snippets import SetupError, Service, parse_main, parse_master, snippet_dir

BACKUP_FOLDER = "privacy-milter-backup"
LIST_PARAMETERS = frozenset({"smtpd_milters", "non_smtpd_milters", "smtp_tls_policy_maps",
                             "milter_header_checks"})
# Services where customers submit mail: marked ORIGINATING ([network] submission_daemons).
SUBMISSION_SERVICES = ("submission/inet", "submissions/inet", "smtps/inet")
RELAY_PLACEHOLDER = "[relay.example.net]:587"
TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True)
class Change:
    """One line to write: a main.cf parameter, a master.cf entry or a -o parameter."""
    kind: str                        # "main", "service", "option"
    key: str                         # parameter name, "svc/type" or "svc/type/param"
    value: str
    was: str | None                  # None: not set before

    def command(self) -> list[str]:
        flag = {"main": ["-e"], "service": ["-M", "-e"], "option": ["-P", "-e"]}[self.kind]
        return flag + [f"{self.key}={self.value}"]


@dataclasses.dataclass
class Plan:
    config_dir: Path
    changes: list[Change]
    unchanged: list[tuple[str, str]]  # (key, value) already as wanted
    files: list[tuple[Path, bytes]]   # files to write into config_dir (the .regexp tables)

    def files_to_write(self) -> list[tuple[Path, bytes]]:
        return [(p, b) for p, b in self.files if not p.exists() or p.read_bytes() != b]

    @property
    def empty(self) -> bool:
        return not self.changes and not self.files_to_write()


# --- what Postfix has now -------------------------------------------------------------------

def _postconf(config_dir: Path, *args: str) -> str:
    program = shutil.which("postconf") or shutil.which("postconf", path="/usr/sbin:/sbin")
    if program is None:
        raise SetupError("postconf was not found (is Postfix installed? it lives in /usr/sbin)")
    try:
        done = subprocess.run([program, "-c", str(config_dir), *args], capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise SetupError(f"postconf did not answer within {TIMEOUT:g}s") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise SetupError(f"postconf {' '.join(args)} failed: {said}")
    return done.stdout


def explicit_settings(config_dir: Path) -> dict[str, str]:
    """What main.cf itself says (`postconf -n`), unexpanded."""
    settings = {}
    for line in _postconf(config_dir, "-n").splitlines():
        name, _, value = line.partition(" = ")
        settings[name.strip()] = value.strip()
    return settings


def services(config_dir: Path) -> dict[str, str]:
    """master.cf's entries as `postconf -M` prints them (one line each, -o options inline)."""
    entries = {}
    for line in _postconf(config_dir, "-M").splitlines():
        fields = line.split()
        if len(fields) >= 8:
            entries[f"{fields[0]}/{fields[1]}"] = " ".join(fields)
    return entries


# --- merging --------------------------------------------------------------------------------

_LIST_ITEM = re.compile(r"\{[^}]*\}|[^\s,{}]+")


def split_list(value: str) -> list[str]:
    """A Postfix list (commas and/or white space; `{ ... }` groups kept whole)."""
    return [" ".join(item.split()) for item in _LIST_ITEM.findall(value)]


def merge_list(ours: str, current: str) -> str:
    mine = split_list(ours)
    theirs = [item for item in split_list(current) if item not in mine]
    if set(mine) <= set(split_list(current)):
        return ", ".join(split_list(current))   # already there: the admin's order stands
    return ", ".join(mine + theirs)


def merge_macros(ours: str, current: str) -> str:
    have = current.split()
    return " ".join(have + [m for m in ours.split() if m not in have])


def wanted_value(name: str, ours: str, current: str) -> str:
    if name in LIST_PARAMETERS and current.strip():
        return merge_list(ours, current)
    if name.startswith("milter_") and name.endswith("_macros"):
        return merge_macros(ours, current)
    return ours


_REFERENCE = re.compile(r"\$\{?(\w+)\}?")


def _follows_another(raw: str | None, names: Iterable[str]) -> bool:
    """`non_smtpd_milters = $smtpd_milters`: it follows a list we set, so leave it alone."""
    found = _REFERENCE.fullmatch(raw.strip()) if raw else None
    return found is not None and found.group(1) in set(names)


def _in_dir(value: str, config_dir: Path) -> str:
    """The snippets name /etc/postfix; a `--config-dir` instance keeps its tables in its own."""
    return value.replace("/etc/postfix/", f"{config_dir}/")


# --- the plan -------------------------------------------------------------------------------

def plan(config_dir: Path, snippets: Path, relayhost: bool = False) -> Plan:
    main_lines = parse_main((snippets / "main.cf").read_text())
    master = parse_master((snippets / "master.cf").read_text())
    files = ["privacy-milter-header-checks.regexp", "privacy-milter-strip.regexp"]
    relay = ""
    if relayhost:
        relay = postconf.value("relayhost", config_dir)
        if not relay:
            raise SetupError("--relayhost: Postfix has no relayhost; set it first, e.g. "
                             "postconf -e 'relayhost = [smtp.provider.example]:587'")
        extra = [(n, v) for n, v in parse_main((snippets / "main-relayhost.cf").read_text())
                 if n != "relayhost"]    # the admin's relay stays; the snippet's is an example
        main_lines = [(n, v) for n, v in main_lines if n not in dict(extra)] + extra
        master = parse_master((snippets / "master-relayhost.cf").read_text())
        files = ["privacy-milter-header-checks-relayhost.regexp", "privacy-milter-strip.regexp"]
    changes, unchanged = _main_changes(config_dir, main_lines)
    entries = services(config_dir)
    for service in master:
        _service_changes(config_dir, service, entries.get(service.key), changes, unchanged)
    _submission_changes(entries, changes, unchanged)
    contents = []
    for name in files:
        data = (snippets / name).read_bytes()
        if relay:
            data = data.replace(RELAY_PLACEHOLDER.encode(), relay.encode())
        contents.append((config_dir / name, data))
    return Plan(config_dir, changes, unchanged, contents)


def _main_changes(config_dir: Path, lines: Sequence[tuple[str, str]]
                  ) -> tuple[list[Change], list[tuple[str, str]]]:
    names = [name for name, _ in lines]
    effective = postconf.read(names, config_dir)
    raw = explicit_settings(config_dir)
    changes: list[Change] = []
    unchanged: list[tuple[str, str]] = []
    for name, ours in lines:
        if _follows_another(raw.get(name), names):
            unchanged.append((name, raw[name]))
            continue
        value = wanted_value(name, _in_dir(ours, config_dir), effective[name])
        if raw.get(name) == value:
            unchanged.append((name, value))
        else:
            changes.append(Change("main", name, value, raw.get(name)))
    return changes, unchanged


def _service_changes(config_dir: Path, service: Service, now: str | None,
                     changes: list[Change], unchanged: list[tuple[str, str]]) -> None:
    wanted = _in_dir(" ".join(service.text().split()), config_dir)
    if now == wanted:
        unchanged.append((service.key, wanted))
    else:   # one `postconf -M -e`: the entry with its -o options replaces the whole service
        changes.append(Change("service", service.key, wanted, now))


def _submission_changes(entries: dict[str, str], changes: list[Change],
                        unchanged: list[tuple[str, str]]) -> None:
    for key in SUBMISSION_SERVICES:
        now = entries.get(key)
        if now is None:
            continue
        option = f"{key}/milter_macro_daemon_name"
        if "-o milter_macro_daemon_name=" in now:
            unchanged.append((option, "(set by the admin)"))
        else:
            changes.append(Change("option", option, "ORIGINATING", None))


# --- printing, applying, undoing ------------------------------------------------------------

def describe(p: Plan) -> str:
    out = [f"# Postfix configuration in {p.config_dir}"]
    for change in p.changes:
        was = "not set" if change.was is None else change.was
        out.append(f"postconf -c {p.config_dir} {' '.join(_quote(a) for a in change.command())}"
                   f"    # was: {was}")
    for key, value in p.unchanged:
        out.append(f"# already set: {key} = {' '.join(value.split())}")
    for path, data in p.files:
        state = "write" if (path, data) in p.files_to_write() else "already there"
        out.append(f"# {state}: {path}")
    if p.empty:
        out.append("# nothing to change")
    return "\n".join(out)


def _quote(arg: str) -> str:
    return f"'{arg}'" if re.search(r"[\s${}]", arg) else arg


def apply(p: Plan, stamp: str | None = None) -> Path | None:
    """Back up main.cf and master.cf, then write the plan. None when nothing was to change."""
    if p.empty:
        return None
    backup = p.config_dir / BACKUP_FOLDER / (stamp or time.strftime("%Y%m%dT%H%M%S"))
    backup.mkdir(parents=True, exist_ok=False, mode=0o700)
    for name in ("main.cf", "master.cf"):
        shutil.copy2(p.config_dir / name, backup / name)
    created: list[str] = []
    replaced: list[str] = []
    for path, data in p.files_to_write():
        if path.exists():
            shutil.copy2(path, backup / path.name)
            replaced.append(path.name)
        else:
            created.append(path.name)
        path.write_bytes(data)
        path.chmod(0o644)
    for kind in ("main", "service", "option"):   # one postconf run for each kind of line
        batch = [c for c in p.changes if c.kind == kind]
        if batch:
            flags = batch[0].command()[:-1]
            _postconf(p.config_dir, *flags, *(c.command()[-1] for c in batch))
    manifest = {"created": created, "replaced": replaced,
                "written": {n: _sha256(p.config_dir / n) for n in ("main.cf", "master.cf")}}
    (backup / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return backup


def undo(config_dir: Path, force: bool = False) -> Path:
    """Restore the newest backup byte for byte; remove the files that run created."""
    backups = sorted((config_dir / BACKUP_FOLDER).glob("*/manifest.json"))
    if not backups:
        raise SetupError(f"no postfix-setup backup in {config_dir / BACKUP_FOLDER}")
    backup = backups[-1].parent
    manifest = json.loads(backups[-1].read_text())
    edited = [n for n, digest in manifest["written"].items()
              if _sha256(config_dir / n) != digest]
    if edited and not force:
        raise SetupError(f"{', '.join(edited)} changed since postfix-setup wrote it (at "
                         f"{backup.name}); --undo would lose those edits. Compare with "
                         f"{backup}/ and run again with --force to restore anyway")
    for name in ("main.cf", "master.cf", *manifest["replaced"]):
        shutil.copy2(backup / name, config_dir / name)
    for name in manifest["created"]:
        (config_dir / name).unlink(missing_ok=True)
    shutil.rmtree(backup)
    return backup


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- the command ----------------------------------------------------------------------------

def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--apply", action="store_true",
                   help="write the lines with postconf (after a dated backup of main.cf and master.cf)")
    p.add_argument("--undo", action="store_true", help="restore the newest backup byte for byte")
    p.add_argument("--force", action="store_true", help="with --undo: restore even over later edits")
    p.add_argument("--config-dir", type=Path, default=Path("/etc/postfix"),
                   help="Postfix's configuration directory (default %(default)s)")
    p.add_argument("--relayhost", action="store_true",
                   help="the set-up for a host that relays all outbound mail (main-relayhost.cf, "
                        "master-relayhost.cf; relayhost must be set)")
    p.add_argument("--snippets", type=Path, help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> int:
    config_dir: Path = args.config_dir
    if args.undo:
        restored = undo(config_dir, args.force)
        print(f"restored main.cf and master.cf from {restored} (then: postfix reload)")
        return 0
    p = plan(config_dir, snippet_dir(args.snippets), args.relayhost)
    print(describe(p))
    if not args.apply:
        if not p.empty:
            print("# run again with --apply to write these (a dated backup is kept; --undo restores it)")
        return 0
    backup = apply(p)
    if backup is not None:
        print(f"# written; backup in {backup}. Now: postfix reload")
    return 0
