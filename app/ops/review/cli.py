"""`trader review weekly` and `trader review logs` (also `scripts/weekly_review.py`).

Exit codes: 0 report written (with a summary, or facts only because no key is set or --no-model);
1 report written facts-only because a configured model call failed or was refused by a cap, or
the database could not be read; 2 a setting or option is invalid.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from rich.console import Console

review_cli = typer.Typer(
    help="Weekly review and log summaries: facts from the database, a cost-capped model summary.",
    no_args_is_help=True,
)
# soft_wrap: paths and messages stay on one line (copyable, greppable) whatever the terminal width
console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")

if TYPE_CHECKING:
    import asyncpg

    from app.ops.review.runs import Prepared
    from app.ops.review.settings import ReviewSettings

    Prepare = Callable[[asyncpg.Connection, dict[str, str]], Awaitable[Prepared]]

DatabaseUrl = Annotated[
    str | None, typer.Option(help="Postgres URL to read (default: DATABASE_URL)", show_default=False)
]
ReportsDir = Annotated[Path, typer.Option(help="Where the report is written")]
EnvFile = Annotated[
    Path | None,
    typer.Option(
        help="The service's env file, for the current values of tunable settings", exists=True, dir_okay=False
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the prompt and its estimated cost; call nothing")
]
NoModel = Annotated[bool, typer.Option("--no-model", help="Write the facts-only report")]


@review_cli.command()
def weekly(
    week: Annotated[
        str | None, typer.Option(help="ISO week, e.g. 2026-W47 (default: the last complete week)")
    ] = None,
    database_url: DatabaseUrl = None,
    reports_dir: ReportsDir = Path("reports"),
    env_file: EnvFile = None,
    dry_run: DryRun = False,
    no_model: NoModel = False,
) -> None:
    """Review a week of trades, features and logs into reports/weekly-YYYY-Www.md."""
    from app.ops.review.periods import iso_week, last_complete_week
    from app.ops.review.runs import prepare_weekly

    now = datetime.now(UTC)
    period = _or_exit(lambda: iso_week(week) if week else last_complete_week(now))
    _main(
        database_url,
        env_file,
        dry_run,
        no_model,
        now,
        lambda conn, cur: prepare_weekly(conn, period, reports_dir, cur),
    )


@review_cli.command()
def logs(
    since: Annotated[str, typer.Option(help="How far back: 90m, 24h, 7d")] = "24h",
    min_level: Annotated[
        str, typer.Option(help="Lowest level included: debug, info, warning, error, critical")
    ] = "error",
    database_url: DatabaseUrl = None,
    reports_dir: ReportsDir = Path("reports"),
    env_file: EnvFile = None,
    dry_run: DryRun = False,
    no_model: NoModel = False,
) -> None:
    """Summarize recent error logs, grouped by source, into reports/logs-<time>.md."""
    from app.ops.review.facts import check_level
    from app.ops.review.periods import since as since_period
    from app.ops.review.runs import prepare_logs

    now = datetime.now(UTC)
    period = _or_exit(lambda: since_period(since, now))
    level = _or_exit(lambda: check_level(min_level))
    _main(
        database_url,
        env_file,
        dry_run,
        no_model,
        now,
        lambda conn, cur: prepare_logs(conn, period, level, reports_dir, cur),
    )


def _or_exit(build: Callable[[], T]) -> T:
    """Run a parse/validate step; a ValueError becomes its message and exit code 2."""
    try:
        return build()
    except ValueError as exc:
        console.print(f"[red]error:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(2) from None


def _main(
    database_url: str | None,
    env_file: Path | None,
    dry_run: bool,
    no_model: bool,
    now: datetime,
    prepare: Prepare,
) -> None:
    from app.ops.review.settings import load_review_settings
    from app.ops.review.tunables import current_values

    overrides = {"database_url": database_url} if database_url else {}
    settings = _or_exit(lambda: load_review_settings(**overrides))
    current = current_values(env_file)
    raise typer.Exit(
        asyncio.run(_run(settings, current, prepare, dry_run=dry_run, use_model=not no_model, now=now))
    )


async def _run(
    settings: ReviewSettings,
    current: dict[str, str],
    prepare: Prepare,
    *,
    dry_run: bool,
    use_model: bool,
    now: datetime,
) -> int:
    import asyncpg

    from app.ops.review import runs
    from app.ops.review.report import database_label

    where = database_label(settings.database_url)
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=10)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        console.print(
            f"[red]error:[/] cannot read the database at {where} (DATABASE_URL or --database-url): {exc}"
        )
        return 1
    try:
        with console.status(f"reading facts from {where}"):
            prepared = await prepare(conn, current)
        if dry_run:
            typer.echo(await runs.dry_run(conn, settings, prepared, now))  # verbatim: no markup, no wrapping
            return 0
        asking = use_model and settings.api_key
        with console.status(f"asking {settings.model} for a summary" if asking else "writing the report"):
            step = await runs.execute(conn, settings, prepared, current, now=now, use_model=use_model)
    except asyncpg.UndefinedTableError as exc:
        console.print(
            f"[red]error:[/] {where} lacks the schema ({exc}): apply the migrations (app/db/migrations) first"
        )
        return 1
    finally:
        await conn.close()
    for note in step.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    if step.summary is None:
        console.print(f"[yellow]facts only:[/] {step.reason}", highlight=False)
    if step.attempts:
        console.print(f"model cost this run: ${step.run_spent_usd:.6f} ({len(step.attempts)} attempt(s))")
    console.print(f"wrote {prepared.path}")
    return 1 if step.failed else 0
