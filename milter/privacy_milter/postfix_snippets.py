"""The Postfix snippets of deploy/postfix/, read for `privacy-milter postfix-setup`.

main.cf snippets are `name = value` lines; master.cf snippets are service entries with
`-o name=value` lines. Comments and blank lines are skipped; anything else is an error, so
a snippet edited into a shape postfix-setup would misread stops it instead.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .errors import PrivacyMilterError

# Where the snippets are: next to the code in a checkout, or where the package installs them.
SNIPPET_DIRS = (Path(__file__).resolve().parents[2] / "deploy" / "postfix",
                Path("/usr/share/privacy-milter/postfix"))


class SetupError(PrivacyMilterError):
    """postfix-setup cannot go on; the text says why and what to do."""


@dataclasses.dataclass(frozen=True)
class Service:
    """One master.cf entry: `name/type`, its command line and its `-o` parameters."""
    key: str
    fields: tuple[str, ...]          # service type private unpriv chroot wakeup maxproc command
    options: tuple[tuple[str, str], ...]

    def entry(self) -> str:
        return " ".join(self.fields)

    def text(self) -> str:
        lines = [self.entry()] + [f"  -o {name}={value}" for name, value in self.options]
        return "\n".join(lines)


# --- reading the snippets -------------------------------------------------------------------

def snippet_dir(explicit: Path | None = None) -> Path:
    for folder in ((explicit,) if explicit else SNIPPET_DIRS):
        if (folder / "main.cf").is_file():
            return folder
    where = explicit or " or ".join(str(d) for d in SNIPPET_DIRS)
    raise SetupError(f"the Postfix snippets (main.cf, master.cf) were not found in {where}")


def parse_main(text: str) -> list[tuple[str, str]]:
    """`name = value` lines of a main.cf snippet, in order; comments and blanks skipped."""
    settings: list[tuple[str, str]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and settings:      # a continuation line
            name, value = settings[-1]
            settings[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise SetupError(f"not a main.cf line in the snippet: {line!r}")
        settings.append((name.strip(), value.strip()))
    return settings


def parse_master(text: str) -> list[Service]:
    """The service entries of a master.cf snippet (with their `-o name=value` lines)."""
    services: list[tuple[list[str], list[str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace():
            if not services:
                raise SetupError(f"master.cf snippet: continuation line without a service: {line!r}")
            services[-1][1].extend(line.split())
        else:
            services.append((line.split(), []))
    return [_service(fields, rest) for fields, rest in services]


def _service(fields: list[str], rest: list[str]) -> Service:
    words = fields[8:] + rest
    if len(fields) < 8:
        raise SetupError(f"master.cf snippet: a service line needs 8 fields: {' '.join(fields)!r}")
    options: list[tuple[str, str]] = []
    for flag, arg in zip(words[::2], words[1::2]):
        if flag != "-o" or "=" not in arg:
            raise SetupError(f"master.cf snippet: only '-o name=value' is understood, not {flag} {arg}")
        name, _, value = arg.partition("=")
        options.append((name, value))
    if len(words) % 2:
        raise SetupError(f"master.cf snippet: a lone {words[-1]!r} after {fields[0]}")
    return Service(f"{fields[0]}/{fields[1]}", tuple(fields[:8]), tuple(options))
