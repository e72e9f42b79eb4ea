"""The `db` image's entrypoint keeps the official postgres image's contract: on an empty data
volume it runs initdb with the given user, password and database, then serves on every interface
of its network namespace with password authentication for remote clients.

The server runs in a network namespace this test creates (a veth pair to the host), so the login
below comes from a non-loopback address, as another container's would."""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.images.helpers import Unpacked

PASSWORD = "lab-db-password-7f3a"


@dataclass
class Netns:
    name: str
    server_addr: str


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@pytest.fixture
def netns() -> Iterator[Netns]:
    tag = os.getpid() % 250 + 1
    ns, host_if, ns_if = f"trimg{os.getpid()}", f"trimg{tag}h", f"trimg{tag}c"
    host_addr, server_addr = f"10.214.{tag}.1", f"10.214.{tag}.2"
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _ip("link", "set", ns_if, "netns", ns)
        _ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        _ip("link", "set", host_if, "up")
        _ip("-n", ns, "addr", "add", f"{server_addr}/30", "dev", ns_if)
        _ip("-n", ns, "link", "set", ns_if, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        yield Netns(ns, server_addr)
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


class DbContainer:
    """The image's Entrypoint + Cmd started as root (as Docker does) inside the namespace."""

    def __init__(self, image: Unpacked, netns: Netns, data: Path, env: dict[str, str]) -> None:
        self.image, self.netns, self.data, self.env = image, netns, data, env
        self.proc: subprocess.Popen | None = None
        self.log = data.parent / "db.log"

    def start(self) -> None:
        cmd = self.image.command(env=self.env, binds={self.image.env()["PGDATA"]: self.data})
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", self.netns.name, *cmd], stdout=log, stderr=log
            )

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    async def connect(self, password: str, wait: float = 90) -> asyncpg.Connection:
        """Connect as soon as the server accepts connections; fail with its log otherwise."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        user, db = self.env["POSTGRES_USER"], self.env["POSTGRES_DB"]
        while True:
            try:
                return await asyncpg.connect(
                    host=self.netns.server_addr,
                    port=5432,
                    user=user,
                    password=password,
                    database=db,
                    timeout=5,
                )
            except (TimeoutError, OSError, asyncpg.CannotConnectNowError):
                assert self.proc and self.proc.poll() is None, f"db exited early:\n{self.log.read_text()}"
                assert loop.time() < deadline, (
                    f"db did not accept connections in {wait}s:\n{self.log.read_text()}"
                )
                await asyncio.sleep(0.5)


@pytest.fixture
def db(unpacked: Callable[[str], Unpacked], netns: Netns, tmp_path: Path) -> Iterator[DbContainer]:
    secret = tmp_path / "postgres_password"
    secret.write_text(PASSWORD)
    data = tmp_path / "volume"
    data.mkdir()
    image = unpacked("db")
    # A secret file as Compose mounts one: outside the data volume, readable before the user switch.
    run_secrets = image.rootfs / "run-secrets-test"
    run_secrets.mkdir(exist_ok=True)
    (run_secrets / "postgres_password").write_text(PASSWORD)
    env = {
        "POSTGRES_PASSWORD_FILE": "/run-secrets-test/postgres_password",
        "POSTGRES_USER": "trader",
        "POSTGRES_DB": "trader",
    }
    container = DbContainer(image, netns, data, env)
    try:
        yield container
    finally:
        container.stop()


async def test_empty_volume_is_initialised_and_accepts_a_password_login(db: DbContainer) -> None:
    db.start()
    conn = await db.connect(PASSWORD)
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
    conn = await db.connect(PASSWORD)
    await conn.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
    await conn.close()
    db.stop()
    db.env = {**db.env, "POSTGRES_PASSWORD_FILE": "/run-secrets-test/absent"}  # initdb would need it
    db.start()
    conn = await db.connect(PASSWORD)
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
