import asyncpg


async def test_each_test_gets_its_own_empty_database(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        tables = await conn.fetchval("select count(*) from pg_tables where schemaname = 'public'")
        assert tables == 0, f"fresh database {pg_url} already has {tables} tables"
    finally:
        await conn.close()


def test_a_stopped_server_starts_again_with_its_data() -> None:
    from app.ops.localpg import PostgresServer

    server = PostgresServer().start()
    try:
        server.createdb("kept")
        server.stop()
        server.start()
        listed = server._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(server.port),
            "-U",
            server.user,
            "-Atc",
            "select datname from pg_database",
            "trader",
        ).stdout.split()
        assert {"trader", "kept"} <= set(listed), f"databases after restart: {listed}"
    finally:
        server.destroy()
