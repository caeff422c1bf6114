"""pytest fixtures for the real-server harness. Load with `pytest_plugins = ["tests.harness.fixtures"]`.

certs (session), sink / tls_sink (function), postfix_factory (function), clamd / spamd (module).
Everything a fixture starts is stopped at teardown, also when the test failed.

Instance directories live under a fresh /tmp/pm-harness-* (mode 0755), not under tmp_path:
pytest's base temp directory is 0700, and Postfix daemons running as user `postfix` must
reach the sasldb, TLS files and milter sockets. Set PM_KEEP_HARNESS=1 to keep them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from collections.abc import Callable, Iterator

import pytest

from .certs import Certs, make_certs
from .engines import Clamd, Spamd
from .postfix import PostfixInstance
from .sink import Sink


def harness_dir(label: str) -> Path:
    """A new 0755 directory under /tmp for servers that other users must reach."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:40]
    path = Path(tempfile.mkdtemp(prefix=f"pm-harness-{safe}-"))
    os.chmod(path, 0o755)
    return path


def _remove(path: Path) -> None:
    if not os.environ.get("PM_KEEP_HARNESS"):
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def certs() -> Iterator[Certs]:
    """trustme CA + server certificate for localhost, 127.0.0.1, mx.harness.test, sink.harness.test."""
    root = harness_dir("certs")
    try:
        yield make_certs(root)
    finally:
        _remove(root)


@pytest.fixture
def sink() -> Iterator[Sink]:
    """A plain aiosmtpd destination on 127.0.0.1 (no STARTTLS)."""
    with Sink() as s:
        yield s


@pytest.fixture
def tls_sink(certs: Certs) -> Iterator[Sink]:
    """A destination offering STARTTLS with the harness certificate (not requiring it)."""
    with Sink(tls_cert=str(certs.cert_file), tls_key=str(certs.key_file)) as s:
        yield s


@pytest.fixture
def postfix_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., PostfixInstance]]:
    """make(**PostfixInstance kwargs, start=True) -> a started instance; all stopped at teardown."""
    root = harness_dir(request.node.name)
    made: list[PostfixInstance] = []

    def make(*, start: bool = True, **kwargs: Any) -> PostfixInstance:
        inst = PostfixInstance(root / f"pf{len(made)}", **kwargs)
        made.append(inst)
        return inst.start() if start else inst

    try:
        yield make
    finally:
        for inst in made:
            inst.stop()
        _remove(root)


@pytest.fixture(scope="module")
def clamd() -> Iterator[Clamd]:
    """clamd with the EICAR test signature only; `.instream(data)`, `.port`, `.socket_path`."""
    root = harness_dir("clamd")
    try:
        with Clamd(root) as engine:
            yield engine
    finally:
        _remove(root)


@pytest.fixture(scope="module")
def spamd() -> Iterator[Spamd]:
    """spamd with Debian's rules, network tests off; `.check(raw)`, `.port`."""
    root = harness_dir("spamd")
    try:
        with Spamd(root) as engine:
            yield engine
    finally:
        _remove(root)
