"""Fixtures shared by every test package: a real PostgreSQL cluster for the session and a fresh
database per test."""

from collections.abc import Iterator
from itertools import count

import pytest

from app.ops.localpg import PostgresServer
from tests.support.s3 import SeaweedS3

_db_ids = count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """A new, empty database on the session's cluster (no schema applied)."""
    return pg_server.createdb(f"t{next(_db_ids)}")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A real SeaweedFS S3 endpoint on loopback for the session (see tests/support/s3.py);
    tests create their own buckets. Tests that stop the server start their own instance."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.destroy()
