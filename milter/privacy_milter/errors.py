"""One exception hierarchy; every message is written for the admin who will read it."""

from __future__ import annotations


class PrivacyMilterError(Exception):
    """Base class: anything the daemon raises on purpose."""


class PolicyError(PrivacyMilterError):
    """policy.toml could not be loaded. `problems` lists every issue found, one line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        listing = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s):\n{listing}")


class StoreError(PrivacyMilterError):
    """The metadata store could not be opened, written or read."""
