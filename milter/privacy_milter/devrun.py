"""`make run`'s policy: the developer's policy.toml with every file the daemon writes moved
into the checkout.

Run as root with ./policy.toml as it is, the daemon created the production state
(/var/lib/privacy-milter/address.key, metadata.db, a socket under
/var/spool/postfix/privacy-milter) owned by root, and the daemon later started as its own
user refused to start. So `make run` writes a copy of the policy with those settings pointed
at RUN_DIR (sockets) and STATE_DIR (store, key, delivery-log position), and checks the copy
as the daemon will read it: a written path outside the two folders is refused, never used.

    python -m privacy_milter.devrun --policy policy.toml --run-dir run --state-dir var --out run/policy.toml
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from . import hostname
from . import policy as policy_mod
from .errors import PolicyError
from .registry import FILTERS

EX_CONFIG = 78
# A developer's machine often has neither a Postfix main.cf nor a name getfqdn() can give
# (Debian says `localhost`); the daemon refuses both, rightly, for production. `make run`
# then names the host this, under the reserved .invalid TLD (RFC 2606): no real host has it.
DEV_HOST_NAME = "make-run.privacy-milter.invalid"

HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"-]+)\s*\]\s*(?:#.*)?$")  # [table], not [[array]]


def moved_settings(run_dir: Path, state_dir: Path) -> list[tuple[str, str, str]]:
    """(table, key, value) for every setting naming a file the daemon creates or writes."""
    return [
        ("milter", "socket", f"unix:{run_dir / 'milter.sock'}"),
        ("tls_policy", "socket", str(run_dir / "tlspolicy.sock")),
        ("store", "path", str(state_dir / "metadata.db")),
        ("store", "key_file", str(state_dir / "address.key")),
        ("summary", "maillog_state", str(state_dir / "maillog.pos")),
    ]


def set_key(text: str, table: str, key: str, value: str) -> str:
    """`key = value` in `[table]`: the existing line replaced, or one added after the header,
    or the table appended. Values here are plain strings (json.dumps is valid TOML for them)."""
    line = f"{key} = {json.dumps(value)}  # make run: in the checkout, not the production path"
    lines = text.splitlines()
    start = next((i for i, s in enumerate(lines) if (m := HEADER.match(s)) and m.group(1) == table), None)
    if start is None:
        return text.rstrip("\n") + f"\n\n[{table}]\n{line}\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if key_re.match(lines[i]):
            lines[i] = line
            break
    else:
        lines.insert(start + 1, line)
    return "\n".join(lines) + "\n"


def written_paths(policy: policy_mod.Policy) -> dict[str, Path]:
    """Every file the daemon with this policy may create or write, by setting name."""
    out = {
        "[store] path": policy.store.path,
        "[store] key_file": policy.store.key_file,
        "[tls_policy] socket": Path(policy.tls_policy.config.socket_path),
        "[summary] maillog_state": policy.summary.maillog_state,
    }
    if policy.milter.socket.startswith("unix:"):
        out["[milter] socket"] = Path(policy.milter.socket.removeprefix("unix:"))
    if policy.log.file:
        out["[log] file"] = Path(policy.log.file)
    return out


def outside(policy: policy_mod.Policy, allowed: list[Path]) -> list[str]:
    """The written paths not under one of `allowed`, as 'setting = path' lines."""
    roots = [a.resolve() for a in allowed]
    return [f"{name} = {path}" for name, path in written_paths(policy).items()
            if not any(path.resolve().is_relative_to(r) for r in roots)]


def write_dev_policy(source: Path, run_dir: Path, state_dir: Path, out: Path) -> policy_mod.Policy:
    """Write the copy and return it as the daemon will load it; PolicyError if the source is
    invalid or the copy would still write outside the two folders."""
    run_dir, state_dir = run_dir.resolve(), state_dir.resolve()
    policy_mod.load(source, FILTERS)  # its own errors, with the developer's file and line numbers
    text = policy_mod.read_policy_text(source)
    for table, key, value in moved_settings(run_dir, state_dir):
        text = set_key(text, table, key, value)
    policy = policy_mod.parse(text, str(out), FILTERS)
    if not policy.store.host_name:
        try:
            hostname.resolve()
        except hostname.HostNameError as exc:
            print(f"make run: {exc}; using [store] host_name = \"{DEV_HOST_NAME}\" for this run",
                  file=sys.stderr)
            text = set_key(text, "store", "host_name", DEV_HOST_NAME)
            policy = policy_mod.parse(text, str(out), FILTERS)
    if bad := outside(policy, [run_dir, state_dir]):
        raise PolicyError(str(source), [f"{source}: make run would write outside {run_dir} and {state_dir}: {b}"
                                        for b in bad])
    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o755)  # Postfix (user postfix) must reach the socket
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"# written by `make run` from {source}; edit that file, not this one\n" + text)
    return policy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, required=True)
    parser.add_argument("--run-dir", type=Path, required=True, help="sockets")
    parser.add_argument("--state-dir", type=Path, required=True, help="store, address key, log position")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        write_dev_policy(args.policy, args.run_dir, args.state_dir, args.out)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return EX_CONFIG
    return 0


if __name__ == "__main__":
    sys.exit(main())
