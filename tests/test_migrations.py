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
