"""The PostgreSQL fixture: a real server in a temporary directory, password only in a passfile."""

import pytest

from tests.harness.postgres import PostgresServer


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


def test_server_answers_on_its_unix_socket_with_the_passfile(pg):
    assert pg.psql("SELECT 40 + 2").strip() == "42"
    assert pg.password not in pg.conninfo and "passfile=" in pg.conninfo
    assert (pg.passfile.stat().st_mode & 0o777) == 0o600
