"""TimescaleDB when the server has it, plain Postgres otherwise.

Production runs TimescaleDB: the time-series tables become hypertables on `ts`, with compression
after TIMESCALE_COMPRESS_AFTER_DAYS and, when TIMESCALE_RETENTION_DAYS is set, retention. The
schema (app/db/migrations) is plain SQL that works either way, so nothing else in the service
knows which path it is on. Every call here is idempotent: it runs at each start-up, and changed
settings replace the policies.
"""

import asyncpg
import structlog

from app.core.config import Settings

log = structlog.get_logger(__name__)

# table -> column that compressed chunks are segmented by (queries filter on it)
HYPERTABLES = {"trades": "symbol", "features": "symbol", "logs": "source"}


def policy_statements(settings: Settings) -> list[str]:
    """The SQL that turns the core tables into hypertables with the configured policies."""
    compress_days = settings.timescale_compress_after_days
    statements = ["create extension if not exists timescaledb"]
    for table, segment_by in HYPERTABLES.items():
        statements += [
            f"select create_hypertable('{table}', by_range('ts'),"
            " if_not_exists => true, migrate_data => true)",
            f"alter table {table} set (timescaledb.compress, timescaledb.compress_segmentby = '{segment_by}',"
            " timescaledb.compress_orderby = 'ts desc, id desc')",
            f"select remove_compression_policy('{table}', if_exists => true)",
            f"select add_compression_policy('{table}', interval '{compress_days} days')",
            f"select remove_retention_policy('{table}', if_exists => true)",
        ]
        if settings.timescale_retention_days is not None:
            statements.append(
                f"select add_retention_policy('{table}', interval '{settings.timescale_retention_days} days')"
            )
    return statements


async def available(conn: asyncpg.Connection) -> bool:
    found = await conn.fetchval("select count(*) from pg_available_extensions where name = 'timescaledb'")
    return bool(found)


async def apply(conn: asyncpg.Connection, settings: Settings) -> bool:
    """Apply hypertables and policies when the extension is installed; returns whether it was."""
    if not await available(conn):
        log.info("timescaledb_absent", detail="plain Postgres: no hypertables, compression or retention")
        return False
    try:
        async with conn.transaction():
            for statement in policy_statements(settings):
                await conn.execute(statement)
    except asyncpg.PostgresError as exc:
        # Installed but not loadable (shared_preload_libraries) or an old version: keep serving.
        log.error("timescaledb_setup_failed", error=str(exc))
        return False
    log.info(
        "timescaledb_active",
        compress_after_days=settings.timescale_compress_after_days,
        retention_days=settings.timescale_retention_days,
    )
    return True
