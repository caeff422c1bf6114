"""Postfix's live settings, read the way an admin reads them: `postconf -x -h NAME ...`.

Several promises depend on what Postfix itself is configured to do (its host name, its
relayhost, the milter lines). Rather than ask the admin to repeat those in policy.toml,
privacy-milter asks `postconf`, the one tool that knows main.cf's defaults, `$name`
expansion and `-c DIR` instances. Bounded in time; any failure is a PostconfError whose
text an admin can act on (postconf missing, main.cf unreadable, the time-out).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from .errors import PrivacyMilterError

TIMEOUT = 5.0  # seconds; postconf answers in milliseconds unless the host is in trouble


class PostconfError(PrivacyMilterError):
    """postconf could not be run or did not answer."""


def read(names: Sequence[str], config_dir: Path | str | None = None,
         timeout: float = TIMEOUT) -> dict[str, str]:
    """The expanded values of the named main.cf parameters (`postconf -x -h`), in a dict.

    `config_dir` is Postfix's `-c DIR` (an instance other than /etc/postfix). Raises
    PostconfError when postconf is missing, fails, or prints fewer values than asked for.
    """
    if not names:
        return {}
    program = shutil.which("postconf") or shutil.which("postconf", path="/usr/sbin:/sbin")
    if program is None:
        raise PostconfError("postconf was not found (is Postfix installed? it lives in /usr/sbin)")
    command = [program, "-x", "-h"]
    if config_dir is not None:
        command += ["-c", str(config_dir)]
    command += list(names)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        raise PostconfError(f"postconf did not answer within {timeout:g}s") from None
    except OSError as exc:
        raise PostconfError(f"cannot run postconf: {exc.strerror}") from None
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["exit status " + str(done.returncode)])[-1]
        raise PostconfError(f"postconf failed: {said}")
    values = done.stdout.splitlines()
    if len(values) != len(names):
        raise PostconfError(f"postconf printed {len(values)} values for {len(names)} parameters")
    return dict(zip(names, (v.strip() for v in values)))


def value(name: str, config_dir: Path | str | None = None, timeout: float = TIMEOUT) -> str:
    """One parameter's expanded value (see `read`)."""
    return read((name,), config_dir, timeout)[name]
