"""The `db` image's entrypoint keeps the official postgres image's contract: on an empty data
volume it runs initdb with the given user, password and database, then serves on every interface
of its network namespace with password authentication for remote clients.

The server runs in a network namespace this test creates (a veth pair to the host), so the login
below comes from a non-loopback address, as another container's would."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from tests.images.helpers import DB_PASSWORD, DbContainer, Unpacked


async def test_empty_volume_is_initialised_and_accepts_a_password_login(db: DbContainer) -> None:
    db.start()
    conn = await db.connect(DB_PASSWORD)
    try:
        row = await conn.fetchrow(
            "SELECT current_user AS u, current_database() AS d, inet_client_addr() AS a"
        )
        assert (row["u"], row["d"]) == ("trader", "trader"), f"logged in as {dict(row)}"
        assert str(row["a"]) != "127.0.0.1", "the login must come from outside the server's loopback"
        assert await conn.fetchval("SHOW listen_addresses") == "*", "db must listen on every interface"
    finally:
        await conn.close()
    with pytest.raises(asyncpg.InvalidPasswordError):
        await db.connect("not-the-password", wait=5)
    postgres_uid = db.image.ids("postgres")[0]
    stat = db.data.stat()
    assert stat.st_uid == postgres_uid and stat.st_mode & 0o777 == 0o700, (
        f"PGDATA must be postgres's and 0700: uid {stat.st_uid}, mode {oct(stat.st_mode)}"
    )
    assert (db.data / "PG_VERSION").read_text().strip() == "17", "PGDATA is not a PostgreSQL 17 cluster"


async def test_restart_keeps_the_data_and_skips_initdb(db: DbContainer) -> None:
    db.start()
    conn = await db.connect(DB_PASSWORD)
    await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    await conn.close()
    db.stop()
    db.env = {**db.env, "POSTGRES_PASSWORD_FILE": "/run-secrets-test/absent"}  # initdb would need it
    db.start()
    conn = await db.connect(DB_PASSWORD)
    try:
        assert await conn.fetchval("SELECT v FROM kept") == 42, "data written before the restart is gone"
    finally:
        await conn.close()
    assert db.log.read_text().count("initialised") == 1, f"initdb ran twice:\n{db.log.read_text()}"


def test_uninitialised_without_password_fails_naming_the_variables(
    unpacked: Callable[[str], Unpacked], tmp_path: Path
) -> None:
    image = unpacked("db")
    result = subprocess.run(
        image.command(binds={image.env()["PGDATA"]: tmp_path}),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0, "the entrypoint started without any password"
    assert "POSTGRES_PASSWORD" in result.stderr and "POSTGRES_PASSWORD_FILE" in result.stderr, result.stderr
