"""A domain's MTA-STS policy file and DNS records, and writing the file for the web server.

The policy id is derived from the policy text (the first 20 hex digits of its SHA-256), so
it changes exactly when the policy changes: a sender compares the id in `_mta-sts.DOMAIN`
with the one it cached and fetches again only then (RFC 8461 §3.1). Nothing to remember
between runs, and publishing twice prints the same records.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..tlspolicy.mtasts_policy import parse_policy
from .settings import DomainPolicy

WELL_KNOWN = Path(".well-known") / "mta-sts.txt"
ID_DIGITS = 20


@dataclass(frozen=True)
class Published:
    """Everything `publish` says about one domain."""

    domain: str
    text: str
    policy_id: str
    path: Path | None  # where the file was written (None: not written)

    def sts_record(self) -> str:
        return f'_mta-sts.{self.domain}. IN TXT "v=STSv1; id={self.policy_id}"'


def policy_text(policy: DomainPolicy) -> str:
    """RFC 8461 §3.2 policy file: CRLF line ends, version first, one mx line per pattern."""
    lines = ["version: STSv1", f"mode: {policy.mode}", *(f"mx: {m}" for m in policy.mx),
             f"max_age: {policy.max_age}"]
    text = "\r\n".join(lines) + "\r\n"
    parse_policy(text)  # the outbound client's parser: what we publish, we can read back
    return text


def policy_id(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_DIGITS]


def tlsrpt_record(domain: str, rua: tuple[str, ...]) -> str | None:
    """`_smtp._tls` TXT record (RFC 8460 §3), None without a reporting address."""
    if not rua:
        return None
    return f'_smtp._tls.{domain}. IN TXT "v=TLSRPTv1; rua={",".join(rua)}"'


def policy_path(webroot: Path, domain: str) -> Path:
    return webroot / domain / WELL_KNOWN


def write_policy(webroot: Path, domain: str, text: str) -> Path:
    """Write the file atomically (a web server never serves half a policy), mode 0644."""
    path = policy_path(webroot, domain)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".mta-sts.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def build(domain: str, policy: DomainPolicy) -> Published:
    text = policy_text(policy)
    return Published(domain=domain, text=text, policy_id=policy_id(text), path=None)
