"""bench/realmail_ham.py without the network: the tarball's layout is read as npm ships it
(package/data/FOLDER/ID.HASH.txt), the mbox separator is dropped, and a cached tarball that
fails npm's integrity is refused rather than scored."""

from __future__ import annotations

import importlib.util
import io
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("realmail_ham", ROOT / "bench" / "realmail_ham.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["realmail_ham"] = module
    spec.loader.exec_module(module)
    return module


def _tarball(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


def test_messages_reads_the_ham_folders_and_drops_the_mbox_line(tmp_path: Path) -> None:
    ham = _load()
    path = tmp_path / "corpus.tgz"
    _tarball(path, {
        "package/data/easy-ham-1/00001.abc.txt": b"From a@b  Thu Aug 22 2002\nSubject: hi\n\nbody\n",
        "package/data/easy-ham-1/00001.abc.json": b"{}",
        "package/data/hard-ham-1/00007.def.txt": b"Subject: two\n\nbody\n",
        "package/data/spam-1/00002.ghi.txt": b"Subject: buy\n\nbody\n",
    })
    got = list(ham.messages(path, ham.HAM))
    assert [(f, i) for f, i, _ in got] == [("easy-ham-1", "00001"), ("hard-ham-1", "00007")]
    assert got[0][2] == b"Subject: hi\n\nbody\n"


def test_a_cached_tarball_failing_integrity_is_refused(tmp_path: Path) -> None:
    ham = _load()
    (tmp_path / ham.TARBALL).write_bytes(b"not the corpus")
    with pytest.raises(ham.FetchError, match="integrity"):
        ham.fetch(tmp_path)
