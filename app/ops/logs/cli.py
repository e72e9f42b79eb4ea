"""`trader logs archive|ship|query` (settings: LOGS_* env vars, see docs/logs.md)."""

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

logs_cli = typer.Typer(
    help="Logs in the bucket: archive old `logs` rows, ship container logs, query both with DuckDB.",
    no_args_is_help=True,
)
# soft_wrap: keys and paths stay on one line (copyable)
console = Console(stderr=True, soft_wrap=True)


def _settings():  # imports stay inside commands so `trader --help` stays fast
    from app.ops.logs.settings import load_logs_settings

    return load_logs_settings()


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


def _progress(message: str) -> None:
    console.print(f"[cyan]…[/cyan] {message}")


@logs_cli.command("archive")
def archive_command() -> None:
    """Move `logs` rows older than LOGS_RETENTION_DAYS to the bucket as Parquet, then delete them."""
    from app.ops.logs import LogsError
    from app.ops.logs.archive import archive_and_report

    try:
        settings = _settings()
        result = asyncio.run(archive_and_report(settings, progress=_progress))
    except LogsError as exc:
        raise _fail(exc) from None
    if result.locked_out:
        console.print("another archive run holds the lock: nothing to do (exit 0)")
        return
    console.print(
        f"[green]archived {result.rows:,} rows[/green] older than {result.cutoff:%Y-%m-%d %H:%M} UTC "
        f"into {len(result.objects)} object(s) under {settings.archive_url}/logs/ (deleted from Postgres)"
    )


@logs_cli.command("ship")
def ship_command(
    today: Annotated[
        bool, typer.Option("--today", help="also ship today so far (re-shipped whole tomorrow)")
    ] = False,
) -> None:
    """Upload the logs of the stack's Compose services (LOGS_SERVICES) per completed day as gzip NDJSON."""
    from app.ops.logs import LogsError, textfile
    from app.ops.logs.containers import ship

    settings = None
    try:
        settings = _settings()
        result = ship(settings, include_today=today, progress=_progress)
    except LogsError as exc:
        if settings is not None and settings.textfile_dir:
            textfile.write_ship(settings.textfile_dir, success=False, lines=0, now=time.time())
        raise _fail(exc) from None
    if settings.textfile_dir:
        textfile.write_ship(settings.textfile_dir, success=True, lines=result.lines, now=time.time())
    console.print(
        f"[green]shipped {result.lines:,} lines[/green] of {', '.join(settings.services)} in "
        f"{len(result.objects)} object(s) under {settings.archive_url}/containers/"
    )


@logs_cli.command("query")
def query_command(
    sql: Annotated[str | None, typer.Argument(help="SQL over the views logs and container_logs")] = None,
    ready: Annotated[
        str | None, typer.Option(help="a ready query instead of SQL (see --list)", show_default=False)
    ] = None,
    archive: Annotated[
        str | None,
        typer.Option(
            help="a local folder or s3://bucket/prefix (default: the LOGS_S3_* bucket)", show_default=False
        ),
    ] = None,
    list_ready: Annotated[bool, typer.Option("--list", help="list the ready queries")] = False,
    csv: Annotated[bool, typer.Option("--csv", help="print CSV (header + rows) instead of a table")] = False,
) -> None:
    """Run DuckDB SQL (or a ready query) over the archive and print the result."""
    from app.ops.logs import LogsError
    from app.ops.logs.query import READY, Archive, run

    if list_ready:
        for name, (about, _) in READY.items():
            typer.echo(f"{name}: {about}")
        return
    if (sql is None) == (ready is None):
        raise _fail(ValueError("give either SQL or --ready NAME (names: " + ", ".join(READY) + ")"))
    if ready is not None and ready not in READY:
        raise _fail(ValueError(f"--ready {ready!r} is unknown; choose one of: {', '.join(READY)}"))
    try:
        settings = _settings()
        url = archive or settings.archive_url
        if url is None:
            raise LogsError("no archive: pass --archive PATH|s3://bucket/prefix or set LOGS_S3_BUCKET")
        with console.status(f"reading {url}"):
            columns, rows = run(Archive(url, settings), READY[ready][1] if ready else sql or "")
    except LogsError as exc:
        raise _fail(exc) from None
    if csv:
        import csv as csv_module
        import sys

        writer = csv_module.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
        return
    table = Table(title=f"{ready or 'query'} over {url}")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    Console(soft_wrap=True).print(table)
    console.print(f"{len(rows):,} row(s)")
