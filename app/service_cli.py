"""`trader serve`, `trader migrate`, `trader dev`: run the service and manage its schema."""

import asyncio
import secrets
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from app.core.config import Settings

console = Console(stderr=True, soft_wrap=True)  # long lines (token, curl) stay pasteable

Host = Annotated[str, typer.Option(help="address to bind; 0.0.0.0 only behind a firewall/proxy")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="TCP port")]


def _settings_or_exit(**overrides: object) -> "Settings":
    from app.core.config import SettingsError, load_settings

    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None


def serve_command(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
) -> None:
    """Serve the API (uvicorn app.main:app) with settings from the environment."""
    import uvicorn

    _settings_or_exit()  # fail here, with the variable named, rather than inside a worker
    console.print(f"serving on http://{host}:{port} (API docs at /docs, metrics at /metrics)")
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        proxy_headers=True,
        lifespan="on",
    )


def migrate_command(
    database_url: Annotated[
        str, typer.Option(envvar="DATABASE_URL", help="postgresql://user:pw@host:port/db")
    ],
) -> None:
    """Apply the SQL migrations this database lacks (and TimescaleDB policies when available)."""
    import asyncpg

    from app.db import timescale
    from app.db.migrate import migrate

    settings = _settings_or_exit(database_url=database_url, TRADER_DEV_ALLOW_NO_TOKEN=True)

    async def run() -> tuple[list, bool]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return await migrate(conn), await timescale.apply(conn, settings)
        finally:
            await conn.close()

    try:
        applied, timescale_active = asyncio.run(run())
    except (OSError, asyncpg.PostgresError) as exc:
        console.print(f"[red]migration failed ({type(exc).__name__}): {exc}[/red] (check DATABASE_URL)")
        raise typer.Exit(1) from None
    for m in applied:
        console.print(f"applied {m.version:04d}_{m.name}")
    console.print(f"{len(applied)} migration(s) applied; database is current")
    console.print(
        "TimescaleDB: "
        + ("hypertables and policies applied" if timescale_active else "absent (plain Postgres)")
    )


def dev_command(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """Run the service on a throwaway local Postgres with a fresh API token; Ctrl-C removes it all."""
    import uvicorn

    from app.main import create_app
    from app.ops.localpg import PostgresServer, PostgresUnavailable

    with console.status("starting a throwaway PostgreSQL cluster"):
        try:
            pg = PostgresServer().start()
        except PostgresUnavailable as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    try:
        token = secrets.token_urlsafe(32)
        settings = _settings_or_exit(database_url=pg.url(), api_token=token, log_json=False)
        console.print(f"PostgreSQL {pg.url()} (data in {pg.base}, removed on exit)")
        console.print(f"API token for this run (shown once): [bold]{token}[/bold]")
        console.print(
            f"try: curl -H 'Authorization: Bearer {token}' http://{host}:{port}/api/v1/trades\n"
            f"docs: http://{host}:{port}/docs    Ctrl-C stops the service and removes the database"
        )
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None)
    finally:
        pg.destroy()
        console.print("stopped; throwaway PostgreSQL removed")
