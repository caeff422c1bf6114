"""Debian's rspamd (3.4) on loopback in HTTP mode, started and stopped by tests.

Its own configuration in the test's directory: the stock rules and scores are read from
Debian's files ($CONFDIR, /etc/rspamd, never written), but every local override
($LOCAL_CONFDIR), its database, run and log directories are the test's. One worker: the
normal one (/checkv2, /ping) on 127.0.0.1:`port`; no controller, no proxy, no fuzzy storage.

DNS: rspamd's RBL/SURBL/SPF/DKIM lookups would each wait ~5 s per message on a host
where no resolver answers. It asks `nameserver` instead (the harness DNS stub, which
answers NXDOMAIN at once for every name it does not hold). Modules that reach outside the
machine whatever DNS says are off: fuzzy_check (UDP to rspamd.com) and hfilter (scores a
client without reverse DNS, as every test address is, about 6: add header).

Readiness is GET /ping answering "pong", never a sleep. Root starts it as its own user
`_rspamd` (the package's); the directories it writes are handed to that user.
"""

from __future__ import annotations

import os
import pwd
import urllib.request
from pathlib import Path

from .engines import _Engine
from .ports import free_port

RSPAMD = "/usr/bin/rspamd"
USER = "_rspamd"
DISABLED_MODULES = ("fuzzy_check", "hfilter")
# rspamd's own test pattern (as spamd's GTUBE): action reject, score 15, whatever else the message holds.
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*" + b"GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


class Rspamd(_Engine):
    """rspamd's normal worker on 127.0.0.1:`port`; `url` is what [filters.spam] address takes."""

    name = "rspamd"
    start_timeout = 120.0  # compiling the stock regular expressions (hyperscan) takes 10-30 s here

    def __init__(self, base_dir: Path | str, *, nameserver: tuple[str, int], port: int | None = None) -> None:
        super().__init__(base_dir)
        self.port = port or free_port()
        self.nameserver = nameserver
        self.local_dir = self.base_dir / "local"
        self.db_dir, self.run_dir, self.log_dir = (self.base_dir / d for d in ("db", "run", "logdir"))
        self.log_path = self.log_dir / "rspamd.log"
        self.conf_path = self.base_dir / "rspamd.conf"
        self._write_config()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _write_config(self) -> None:
        (self.local_dir / "local.d").mkdir(parents=True, exist_ok=True)
        for module in DISABLED_MODULES:
            (self.local_dir / "local.d" / f"{module}.conf").write_text("enabled = false;\n")
        host, port = self.nameserver
        # Merged into the stock dns block (a second `dns {}` in the same section is ignored).
        (self.local_dir / "local.d" / "options.inc").write_text(
            f'dns {{ nameserver = ["{host}:{port}"]; timeout = 1s; retransmits = 1; }}\n')
        self.conf_path.write_text(f"""
.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    .include(priority=1,duplicate=merge) "{self.local_dir}/local.d/options.inc"
}}
logging {{ type = "file"; filename = "{self.log_path}"; level = "info"; }}
worker "normal" {{ bind_socket = "127.0.0.1:{self.port}"; mime = true; count = 1; }}
""")
        user = pwd.getpwnam(USER)
        for d in (self.db_dir, self.run_dir, self.log_dir):
            d.mkdir(exist_ok=True)
            os.chown(d, user.pw_uid, user.pw_gid)

    def _argv(self) -> list[str]:
        return [RSPAMD, "--no-fork", "-u", USER, "-g", USER, "-c", str(self.conf_path),
                "--var", f"LOCAL_CONFDIR={self.local_dir}", "--var", f"DBDIR={self.db_dir}",
                "--var", f"RUNDIR={self.run_dir}", "--var", f"LOGDIR={self.log_dir}"]

    def ping(self, timeout: float = 5.0) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}/ping", timeout=timeout) as reply:
            return bool(reply.read(16).strip() == b"pong")
