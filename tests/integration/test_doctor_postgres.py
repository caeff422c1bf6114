"""doctor's store and key lines for a PostgreSQL store (several hosts, one store), against
the harness's throwaway PostgreSQL: reachable and writable with the key the store holds;
another key fails the key line; a server that is not there fails the store line, bounded."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from privacy_milter import policy as policy_mod
from privacy_milter.doctor import store_checks
from privacy_milter.doctor.model import Setup, Status
from privacy_milter.store import AddressHasher
from privacy_milter.store.postgres import PostgresBackend
from tests.harness.ports import free_port
from tests.harness.postgres import PostgresServer


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


def lines(conninfo: str, key: Path) -> list[tuple[Status, str]]:
    policy = policy_mod.parse(f'[store]\nbackend = "postgresql"\nconninfo = "{conninfo}"\nkey_file = "{key}"\n'
                              'connect_timeout = 2\n')
    return [(f.status, f.text) for f in store_checks.check(Setup(Path("policy.toml"), policy, None, "root"))]


def test_postgresql_store_and_its_key(pg, tmp_path: Path) -> None:
    pg.psql("DROP SCHEMA IF EXISTS doctor CASCADE; CREATE SCHEMA doctor")
    conninfo = f"{pg.conninfo} options='-csearch_path=doctor'"
    key = tmp_path / "address.key"
    key.write_bytes(b"a" * 32)
    os.chmod(key, 0o600)

    async def create() -> None:  # what the first daemon does: the schema and the key's fingerprint
        backend = PostgresBackend(conninfo, host="mx1.doctor.test", connect_timeout=2)
        await backend.open(AddressHasher(b"a" * 32).fingerprint(), daemon=False)
        await backend.close()
    asyncio.run(create())

    store, addr_key = lines(conninfo, key)
    assert store == (Status.OK, "postgresql store reachable and writable")
    assert addr_key == (Status.OK, f"{key} (owner root:root, mode 0600) matches the store's fingerprint")

    key.write_bytes(b"b" * 32)  # another host's key, or a new one made by mistake
    assert lines(conninfo, key)[1][0] is Status.FAIL
    assert "is not the key the store was created with" in lines(conninfo, key)[1][1]

    started = time.monotonic()
    [(status, text), _] = lines(f"host=127.0.0.1 port={free_port()} dbname=x user=x", key)
    assert time.monotonic() - started < 5
    assert status is Status.FAIL and text.startswith("postgresql: connection "), text
