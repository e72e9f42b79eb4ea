"""pg_dump from an exported snapshot, with the manifest taken from the same snapshot, then checked.

A dump is refused (and nothing uploaded) when it is smaller than BACKUP_MIN_DUMP_BYTES, when its
table of contents lacks a table of BACKUP_EXPECTED_TABLES or its data, or when every expected table
is empty (unless BACKUP_ALLOW_EMPTY): uploading such a "success" and letting retention delete the
good backups is the classic way to lose everything.
"""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from app.ops.backup import BackupError
from app.ops.backup.manifest import Manifest, table_sums
from app.ops.backup.pgtools import client_bindir, database_name, libpq_args, tool_major
from app.ops.backup.settings import BackupSettings


async def server_major(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("show server_version_num")) // 10000


async def run_tool(*args: str, env: dict[str, str]) -> str:
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    try:
        out, err = await proc.communicate()
    except asyncio.CancelledError:  # the run failed elsewhere: do not leave the tool running
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed (exit {proc.returncode}): {err.decode().strip()}")
    return out.decode()


async def dump(conn: asyncpg.Connection, settings: BackupSettings, stamp: str, out: Path) -> Manifest:
    """Write the custom-format dump to `out` and return its manifest (sizes of the plain dump only)."""
    major = await server_major(conn)
    bindir = client_bindir(major, settings.pg_bindir)
    dump_major = tool_major(bindir, "pg_dump")
    if dump_major < major:
        raise BackupError(
            f"{bindir}/pg_dump is PostgreSQL {dump_major}, the server {major}: set BACKUP_PG_BINDIR "
            f"to a PostgreSQL {major} bin/ (Debian: postgresql-client-{major})"
        )
    url, env = libpq_args(settings.database_url)
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        snapshot = await conn.fetchval("select pg_export_snapshot()")
        # pg_dump reads the snapshot while this transaction sums the same rows: both at once
        pg_dump = asyncio.create_task(
            run_tool(
                str(bindir / "pg_dump"),
                "--format=custom",
                f"--compress={settings.pg_dump_compress}",
                f"--snapshot={snapshot}",
                f"--file={out}",
                f"--dbname={url}",
                env=env,
            )
        )
        try:
            sums = await table_sums(conn)
            extensions = dict(await conn.fetch("select extname, extversion from pg_extension"))
        except BaseException:
            pg_dump.cancel()
            await asyncio.gather(pg_dump, return_exceptions=True)
            raise
        await pg_dump
        toc = await run_tool(str(bindir / "pg_restore"), "--list", str(out), env=env)
    manifest = Manifest(
        stamp=stamp,
        database=database_name(settings.database_url),
        created_at=datetime.now(UTC).isoformat(),
        server_version_num=int(await conn.fetchval("show server_version_num")),
        pg_dump_major=dump_major,
        extensions=extensions,
        tables=sums,
        dump_bytes=await asyncio.to_thread(lambda: out.stat().st_size),
    )
    check(manifest, toc, settings)
    return manifest


def toc_tables(toc: str, kind: str) -> set[str]:
    """`schema.table` of every TOC entry of `kind` ("TABLE" or "TABLE DATA")."""
    found = set()
    for line in toc.splitlines():
        if line.startswith(";") or ";" not in line:
            continue
        # e.g. "215; 1259 16390 TABLE public trades trader" / "3350; 0 16390 TABLE DATA public trades trader"
        fields = line.split(";", 1)[1].split()
        words = fields[2:]
        prefix = kind.split()
        if kind == "TABLE" and words[1:2] == ["DATA"]:
            continue
        if words[: len(prefix)] == prefix and len(words) >= len(prefix) + 2:
            found.add(f"{words[len(prefix)]}.{words[len(prefix) + 1]}")
    return found


def check(manifest: Manifest, toc: str, settings: BackupSettings) -> None:
    problems = []
    if manifest.dump_bytes < settings.min_dump_bytes:
        problems.append(
            f"the dump is {manifest.dump_bytes} bytes, below BACKUP_MIN_DUMP_BYTES={settings.min_dump_bytes}"
        )
    tables, data = toc_tables(toc, "TABLE"), toc_tables(toc, "TABLE DATA")
    for name in settings.expected_tables:
        if name not in tables:
            problems.append(f"table {name} (BACKUP_EXPECTED_TABLES) is not in the dump")
        elif name not in data:
            problems.append(f"the data of table {name} (BACKUP_EXPECTED_TABLES) is not in the dump")
    expected_rows = sum(manifest.tables[n].rows for n in settings.expected_tables if n in manifest.tables)
    if not settings.allow_empty and expected_rows == 0:
        problems.append(
            "every table of BACKUP_EXPECTED_TABLES is empty (set BACKUP_ALLOW_EMPTY=true on a new stack)"
        )
    if problems:
        raise BackupError("the dump failed its checks, nothing was uploaded:\n  " + "\n  ".join(problems))
