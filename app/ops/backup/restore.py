"""`trader backup restore` and `trader backup verify`.

Restore: download → check the sha256 the manifest recorded → decrypt → (re)create the target
database → pg_restore → compare row counts and checksums of every table with the manifest.
Overwriting an existing database needs an explicit confirmation.

TimescaleDB (when the backup recorded the extension), in the order its docs give: create the
extension at the recorded version first, `timescaledb_pre_restore()`, pg_restore,
`timescaledb_post_restore()`. TimescaleDB has no package here, so this path is exercised on
plain Postgres only; the statements are built by `restore_plan`, which the tests inspect.
"""

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.ops.backup import BackupError, crypto
from app.ops.backup.dump import run_tool, server_major
from app.ops.backup.manifest import Manifest, differences, table_sums
from app.ops.backup.pgtools import client_bindir, database_name, libpq_args, tool_major, with_database
from app.ops.backup.runner import connect, sha256_of
from app.ops.backup.settings import BackupSettings
from app.ops.backup.storage import BackupStore

MAINTENANCE_DB = "postgres"


def admin_url(server_url: str, target: str) -> str:
    """Where to run CREATE/DROP DATABASE: the URL's own database unless that is the target (one
    cannot drop the database one is connected to), then `postgres`. So `--server-url` may name
    whatever database a managed server offers (e.g. `defaultdb`)."""
    name = database_name(server_url)
    return server_url if name != target else with_database(server_url, MAINTENANCE_DB)


@dataclass(frozen=True)
class RestorePlan:
    before: list[str]  # run in the new database before pg_restore
    after: list[str]  # ... and after it
    jobs: int


def restore_plan(manifest: Manifest, jobs: int) -> RestorePlan:
    version = manifest.extensions.get("timescaledb")
    if version is None:
        return RestorePlan(before=[], after=[], jobs=jobs)
    return RestorePlan(
        before=[
            f"create extension if not exists timescaledb version '{version}'",
            "select timescaledb_pre_restore()",
        ],
        after=["select timescaledb_post_restore()"],
        jobs=1,  # restore with one job while pre_restore has the background workers stopped
    )


@dataclass(frozen=True)
class RestoreResult:
    stamp: str
    database: str
    tables: int
    rows: int


async def _exists(server_url: str, name: str) -> bool:
    conn = await connect(admin_url(server_url, name))
    try:
        return bool(await conn.fetchval("select 1 from pg_database where datname = $1", name))
    finally:
        await conn.close()


async def _recreate(server_url: str, name: str) -> None:
    conn = await connect(admin_url(server_url, name))
    quoted = '"' + name.replace('"', '""') + '"'
    try:
        await conn.execute(f"drop database if exists {quoted} with (force)")
        await conn.execute(f"create database {quoted} template template0")
    finally:
        await conn.close()


async def restore(
    settings: BackupSettings,
    database: str,
    *,
    stamp: str | None = None,
    server_url: str | None = None,
    confirm: Callable[[str], bool] = lambda question: False,
    progress: Callable[[str, int], None] | None = None,
) -> RestoreResult:
    """Restore backup `stamp` (default: latest) into `database` on `server_url` (default: the
    server of DATABASE_URL). `confirm` is asked before an existing database is replaced."""
    settings.require("age_identity_file")
    assert settings.age_identity_file is not None
    report = progress or (lambda stage, n: None)
    server = server_url or settings.database_url
    store = BackupStore(settings)
    complete, _ = await asyncio.to_thread(store.stamps)
    stamp = stamp or await asyncio.to_thread(store.latest)
    if stamp is None:
        raise BackupError(f"no backup in s3://{store.bucket}/{store.prefix}: nothing to restore")
    if stamp not in complete:
        raise BackupError(
            f"no complete backup {stamp} in s3://{store.bucket}/{store.prefix}: see `trader backup list`"
        )
    manifest = await asyncio.to_thread(store.manifest, stamp)
    if await _exists(server, database) and not confirm(
        f"database {database!r} exists: replace it with backup {stamp}?"
    ):
        raise BackupError(f"database {database!r} exists and replacing it was not confirmed (pass --yes)")
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="trader-restore-") as tmp:
        encrypted, plain = Path(tmp) / "dump.pgdump.age", Path(tmp) / "dump.pgdump"
        report("download", 0)
        await asyncio.to_thread(store.download_dump, stamp, encrypted, lambda n: report("download", n))
        if await asyncio.to_thread(sha256_of, encrypted) != manifest.encrypted_sha256:
            raise BackupError(
                f"backup {stamp} is corrupt: its sha256 differs from the one its manifest recorded"
            )
        report("decrypt", 0)
        await asyncio.to_thread(
            crypto.decrypt, encrypted, plain, settings.age_identity_file, manifest.recipients
        )
        encrypted.unlink()
        report("restore", 0)
        await _recreate(server, database)
        await _pg_restore(with_database(server, database), plain, manifest, settings)
    report("check", 0)
    conn = await connect(with_database(server, database))
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            actual = await table_sums(conn)
    finally:
        await conn.close()
    problems = differences(manifest.tables, actual)
    if problems:
        raise BackupError(
            f"restore of {stamp} into {database} does not match its manifest:\n  " + "\n  ".join(problems)
        )
    return RestoreResult(
        stamp=stamp, database=database, tables=len(actual), rows=sum(t.rows for t in actual.values())
    )


async def _pg_restore(url: str, dump_file: Path, manifest: Manifest, settings: BackupSettings) -> None:
    conn = await connect(url)
    try:
        bindir = client_bindir(await server_major(conn), settings.pg_bindir)
        if tool_major(bindir, "pg_restore") < manifest.pg_dump_major:
            raise BackupError(
                f"{bindir}/pg_restore is older than the pg_dump ({manifest.pg_dump_major}) that wrote the "
                f"backup: set BACKUP_PG_BINDIR to a PostgreSQL {manifest.pg_dump_major}+ bin/"
            )
        plan = restore_plan(manifest, settings.restore_jobs)
        for statement in plan.before:
            await conn.execute(statement)
        plain_url, env = libpq_args(url)
        await run_tool(
            str(bindir / "pg_restore"),
            "--exit-on-error",
            "--no-owner",
            "--no-privileges",
            f"--jobs={plan.jobs}",
            f"--dbname={plain_url}",
            str(dump_file),
            env=env,
        )
        for statement in plan.after:
            await conn.execute(statement)
    finally:
        await conn.close()


async def verify(
    settings: BackupSettings, stamp: str | None = None, progress: Callable[[str, int], None] | None = None
) -> RestoreResult:
    """Restore into a scratch database next to the live one, compare with the manifest, drop it."""
    scratch = f"trader_backup_verify_{stamp or 'latest'}".lower()
    try:
        return await restore(settings, scratch, stamp=stamp, confirm=lambda q: True, progress=progress)
    finally:
        conn = await connect(admin_url(settings.database_url, scratch))
        try:
            await conn.execute(f'drop database if exists "{scratch}" with (force)')
        finally:
            await conn.close()
