"""[quarantine] in policy.toml: how long held mail is kept and who is told (docs/POLICY.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..tomlcheck import Reader

# An address the daemon sends to or from: a local part and a domain with a dot, nothing else
# (a display name or a list here is a typo that would send the notice nowhere).
ADDRESS = re.compile(r"^[^@\s<>,;\"]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}\.)+[A-Za-z0-9-]{2,63}$")


@dataclass(frozen=True)
class QuarantineSettings:
    keep_days: int = 14                 # held mail older than this is deleted by `quarantine expire`
    notify_sender: bool = True          # a notice to our own customer whose outbound mail was held
    admin: str = ""                     # the admin address: the notices' "who to ask", the digest's recipient
    digest: bool = False                # a daily list of what is held, to `admin`
    notice_from: str = ""               # empty: postmaster@ this host's name
    notice_interval: int = 3600         # at most one notice per sender in this many seconds
    encrypt_transport: str = "privacy-encrypt"  # the encrypt-only transport of deploy/postfix/master.cf
    postfix_config: str = ""            # Postfix's config directory; empty: $MAIL_CONFIG or /etc/postfix

    def keep_seconds(self) -> float:
        return self.keep_days * 86400.0


def _address(r: Reader, key: str) -> str:
    value = r.string(key, "").strip()
    if value and not ADDRESS.match(value):
        r.problem(key, f'must be one address such as "postmaster@example.net"; got "{value}"')
        return ""
    return value


def read_settings(r: Reader) -> QuarantineSettings:
    """[quarantine]: every problem recorded on the reader (strictly: unknown keys too)."""
    d = QuarantineSettings()
    settings = QuarantineSettings(
        keep_days=r.integer("keep_days", d.keep_days, 1, 365),
        notify_sender=r.boolean("notify_sender", d.notify_sender),
        admin=_address(r, "admin"),
        digest=r.boolean("digest", d.digest),
        notice_from=_address(r, "notice_from"),
        notice_interval=r.integer("notice_interval", d.notice_interval, 60, 86400),
        encrypt_transport=r.string("encrypt_transport", d.encrypt_transport).strip(),
        postfix_config=r.string("postfix_config", d.postfix_config).strip(),
    )
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", settings.encrypt_transport):
        r.problem("encrypt_transport", "must be a master.cf service name such as privacy-encrypt")
    if settings.postfix_config and not settings.postfix_config.startswith("/"):
        r.problem("postfix_config", "must be an absolute path such as /etc/postfix")
    if settings.digest and not settings.admin:
        r.problem("digest", "needs [quarantine] admin: the address the digest goes to")
    r.done()
    return settings
