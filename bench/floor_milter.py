#!/usr/bin/env python3
"""The floor for issue 11's throughput targets: pymilter plus only the work the issue keeps.

    python bench/floor_milter.py --work dlp unix:/path/to/sock
    python bench/floor_milter.py --work dlp,dkim --key FILE --selector S unix:/path/to/sock

The `listen` milter (tests/harness/noop_milter.py) receives what privacy-milter receives and
does nothing with it. This one receives the same and does, per message, only the Python work
no privacy-milter can skip, through the same library calls the daemon makes:

  dlp   the DLP scan of the whole message (privacy_filters.dlp.scan, default limits)
  dkim  an RSA or ed25519 DKIM-Signature over the message (privacy_filters.dkim.sign.sign,
        dkimpy with the daemon's OpenSSL signer), inserted at the top with insheader

and nothing else: no policy, no record, no metrics, no log line, no connection watch, no
deadline. Whatever privacy-milter costs above this in the same run is its own path; a
target this floor misses cannot be met by any milter doing that work on pymilter here.
Every message is accepted; a scan or signing failure prints its exception type (never its
text, which can quote the message).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import MappingProxyType

WORK = frozenset(("dlp", "dkim"))


def main(argv: list[str]) -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", default="dlp", help="comma-separated: dlp, dkim")
    ap.add_argument("--key", type=Path, help="DKIM private key file (PEM, mode 0600), for --work dkim")
    ap.add_argument("--selector", default="b2025")
    ap.add_argument("--algorithm", default="rsa-sha256", choices=("rsa-sha256", "ed25519-sha256"))
    ap.add_argument("--domain", default="shop.example", help="the From domain signed as")
    ap.add_argument("spec", help="unix:/path/to/socket")
    args = ap.parse_args(argv[1:])
    work = {w.strip() for w in args.work.split(",") if w.strip()}
    if not work or work - WORK:
        ap.error(f"--work: choose from {', '.join(sorted(WORK))}")
    if "dkim" in work and args.key is None:
        ap.error("--work dkim needs --key")

    import Milter

    from privacy_filters.dlp import scan

    signer = None
    if "dkim" in work:
        from privacy_filters.dkim.keys import load_key
        from privacy_filters.dkim.settings import DkimSettings
        from privacy_filters.dkim.sign import milter_value, sign

        key = load_key(args.key, args.algorithm, args.selector)
        settings = DkimSettings(keys=MappingProxyType({args.domain: (key,)}))

        def signer(raw: bytes) -> list[tuple[str, str]]:
            return [(n, milter_value(v)) for n, v in sign(raw, args.domain, [key], settings)]

    dlp = "dlp" in work
    failures: list[int] = []

    @Milter.header_leading_space
    class FloorMilter(Milter.Base):
        def __init__(self) -> None:
            super().__init__()
            self.head: list[bytes] = []
            self.body_chunks: list[bytes] = []

        @Milter.noreply
        def envfrom(self, mail_from: str, *params: str) -> int:
            self.head, self.body_chunks = [], []
            return Milter.CONTINUE

        @Milter.noreply
        def envrcpt(self, to: str, *params: str) -> int:
            return Milter.CONTINUE

        @Milter.noreply
        def header(self, name: str, value: str) -> int:
            self.head.append(f"{name}:{value}\r\n".encode("utf-8", "surrogateescape"))
            return Milter.CONTINUE

        @Milter.noreply
        def body(self, chunk: bytes) -> int:
            self.body_chunks.append(chunk)
            return Milter.CONTINUE

        def eom(self) -> int:
            raw = b"".join(self.head) + b"\r\n" + b"".join(self.body_chunks)
            try:
                if dlp:
                    scan(raw)
                if signer is not None:
                    for name, value in signer(raw):
                        self.addheader(name, value, 0)
            except Exception as exc:  # a floor measures cost; it never refuses mail
                failures.append(1)
                if len(failures) <= 3:  # the first few; a bench with any is void
                    # the type only: an exception's text can quote the message
                    print(f"floor-milter: message {len(failures)} failed: {type(exc).__name__}", flush=True)
            return Milter.ACCEPT

    spec = args.spec
    if spec.startswith("unix:") and (path := Path(spec[5:])).exists():
        path.unlink()
    os.umask(0)  # the socket must be writable by user postfix
    Milter.factory = FloorMilter
    Milter.set_flags(Milter.ADDHDRS | Milter.CHGHDRS | Milter.QUARANTINE)  # what privacy-milter asks for
    Milter.runmilter("floor-milter", spec, timeout=600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
