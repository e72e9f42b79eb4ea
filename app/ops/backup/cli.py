"""`trader backup run|list|restore|verify` (settings: BACKUP_* env vars, see docs/backups.md)."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

backup_cli = typer.Typer(
    help="Encrypted database backups in the bucket: run, list, restore, verify.", no_args_is_help=True
)
console = Console(stderr=True)


def _settings():  # imports stay inside commands so `trader --help` stays fast
    from app.ops.backup.settings import load_backup_settings

    return load_backup_settings()


def _size(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 1e6 else f"{n / 1e3:,.1f} kB"


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


class _Stages:
    """Prints each stage once and a running byte count for transfers."""

    def __init__(self) -> None:
        self.stage = ""
        self.bytes = 0

    def __call__(self, stage: str, n: int) -> None:
        if stage != self.stage:
            self.stage, self.bytes = stage, 0
            console.print(f"[cyan]…[/cyan] {stage}")
        self.bytes += n
        if n and self.bytes // (64 << 20) != (self.bytes - n) // (64 << 20):
            console.print(f"    {stage}: {self.bytes / 1e6:,.0f} MB")


@backup_cli.command("run")
def run_command(
    allow_shrink: Annotated[
        bool, typer.Option(help="accept a database that lost more rows than BACKUP_MAX_SHRINK_RATIO")
    ] = False,
) -> None:
    """Dump, check, encrypt and upload the database, then apply retention."""
    from app.ops.backup import BackupError
    from app.ops.backup.runner import run_and_report

    try:
        settings = _settings()
        result = asyncio.run(run_and_report(settings, progress=_Stages(), allow_shrink=allow_shrink))
    except BackupError as exc:
        raise _fail(exc) from None
    if result.manifest is None:
        console.print("another backup run holds the lock: nothing to do (exit 0)")
        return
    m = result.manifest
    console.print(
        f"[green]backup {m.stamp}[/green]: {len(m.tables)} tables, {m.total_rows:,} rows, "
        f"dump {_size(m.dump_bytes)} → encrypted {_size(m.encrypted_bytes)} "
        f"in {m.duration_seconds:.1f} s"
    )
    console.print(
        f"uploaded to s3://{settings.s3_bucket}/{settings.s3_prefix}/backups/{m.stamp}/ (now latest)"
    )
    if result.deleted:
        console.print(f"retention deleted: {', '.join(result.deleted)}")


@backup_cli.command("list")
def list_command() -> None:
    """List the complete backups in the bucket (newest last)."""
    from app.ops.backup import BackupError
    from app.ops.backup.storage import BackupStore

    try:
        store = BackupStore(_settings())
        backups, latest = store.list(), store.latest()
    except BackupError as exc:
        raise _fail(exc) from None
    table = Table(title=f"backups in s3://{store.bucket}/{store.prefix}")
    for column in ("stamp", "age", "size", "tables", "rows", ""):
        table.add_column(column)
    now = datetime.now(UTC)
    for item in backups:
        m = item.manifest
        age = now - datetime.fromisoformat(m.created_at)
        table.add_row(
            item.stamp,
            f"{age.days}d {age.seconds // 3600}h",
            _size(m.encrypted_bytes),
            str(len(m.tables)),
            f"{m.total_rows:,}",
            "latest" if item.stamp == latest else "",
        )
    Console().print(table)


@backup_cli.command("restore")
def restore_command(
    to: Annotated[
        str, typer.Option("--to", help="database to restore into (created, or replaced after confirmation)")
    ],
    backup: Annotated[
        str | None, typer.Option(help="backup stamp (see `trader backup list`); default latest")
    ] = None,
    server_url: Annotated[
        str | None,
        typer.Option(help="postgresql:// URL of a database on the target server (default: DATABASE_URL)"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="replace an existing database without asking")] = False,
) -> None:
    """Restore a backup into a named database and check it against its manifest."""
    from app.ops.backup import BackupError
    from app.ops.backup.restore import restore

    def confirm(question: str) -> bool:
        return yes or typer.confirm(question, default=False)

    try:
        result = asyncio.run(
            restore(_settings(), to, stamp=backup, server_url=server_url, confirm=confirm, progress=_Stages())
        )
    except BackupError as exc:
        raise _fail(exc) from None
    console.print(
        f"[green]restored {result.stamp}[/green] into database {result.database}: {result.tables} tables, "
        f"{result.rows:,} rows, row counts and checksums match the manifest"
    )


@backup_cli.command("verify")
def verify_command(
    backup: Annotated[str | None, typer.Option(help="backup stamp; default latest")] = None,
) -> None:
    """Restore a backup into a scratch database, compare it with its manifest, drop the scratch database."""
    from app.ops.backup import BackupError
    from app.ops.backup.restore import verify

    try:
        result = asyncio.run(verify(_settings(), backup, progress=_Stages()))
    except BackupError as exc:
        raise _fail(exc) from None
    console.print(
        f"[green]backup {result.stamp} verified[/green]: {result.tables} tables, {result.rows:,} rows "
        "match the manifest (scratch database dropped)"
    )
