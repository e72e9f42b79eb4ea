import asyncio

import asyncpg

from app.db.migrate import available, migrate_url


async def test_migrations_apply_once_and_create_the_core_tables(pg_url: str) -> None:
    first = await migrate_url(pg_url)
    assert [m.version for m in first] == [m.version for m in available()], (
        "fresh database must get every migration"
    )
    assert await migrate_url(pg_url) == [], "a second run must apply nothing"
    conn = await asyncpg.connect(pg_url)
    try:
        tables = {
            r["tablename"]
            for r in await conn.fetch("select tablename from pg_tables where schemaname='public'")
        }
    finally:
        await conn.close()
    missing = {"trades", "features", "logs", "idempotency_keys", "schema_migrations"} - tables
    assert not missing, f"tables missing after migrate: {missing}"


async def test_concurrent_migrations_apply_each_version_once(pg_url: str) -> None:
    results = await asyncio.gather(*(migrate_url(pg_url) for _ in range(4)))
    applied = sorted(m.version for batch in results for m in batch)
    assert applied == [m.version for m in available()], f"each migration applied exactly once, got {applied}"


async def test_start_up_on_plain_postgres_skips_timescale_and_keeps_the_schema_usable(pg_url: str) -> None:
    """The plain-Postgres path (all the build machines have): no extension, no hypertables, and the
    service's start-up still migrates and opens its pool. The TimescaleDB path is only unit-tested
    (tests/unit/test_timescale.py)."""
    from app.core.config import load_settings
    from app.db.pool import open_database

    settings = load_settings(database_url=pg_url, api_token="migration-test-token-0123")
    pool, timescale_active = await open_database(settings)
    try:
        assert timescale_active is False, "no timescaledb extension here, yet TimescaleDB reported active"
        extensions = {r["extname"] for r in await pool.fetch("select extname from pg_extension")}
        assert "timescaledb" not in extensions, extensions
        # jsonb travels as Python objects through the pool's codec, also via COPY
        await pool.copy_records_to_table(
            "logs",
            records=[("info", "t", "m", {"k": [1, "x"]})],
            columns=["level", "source", "message", "payload"],
        )
        assert await pool.fetchval("select payload from logs") == {"k": [1, "x"]}
    finally:
        await pool.close()


async def test_start_up_waits_for_the_database_then_names_database_url(pg_server) -> None:
    from app.core.config import load_settings
    from app.db.pool import open_database
    from app.ops.ports import free_port

    url = f"postgresql://trader@127.0.0.1:{free_port()}/nothing"
    settings = load_settings(
        database_url=url, api_token="migration-test-token-0123", db_startup_timeout_seconds=1
    )
    try:
        await open_database(settings)
    except RuntimeError as exc:
        assert "DATABASE_URL" in str(exc) and "DB_STARTUP_TIMEOUT_SECONDS" in str(exc), str(exc)
    else:
        raise AssertionError("open_database succeeded against a port nobody listens on")
