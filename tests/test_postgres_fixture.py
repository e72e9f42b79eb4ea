import asyncpg


async def test_each_test_gets_its_own_empty_database(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        tables = await conn.fetchval("select count(*) from pg_tables where schemaname = 'public'")
        assert tables == 0, f"fresh database {pg_url} already has {tables} tables"
    finally:
        await conn.close()
