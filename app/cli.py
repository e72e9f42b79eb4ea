"""The `trader` command: one entry point for every operator action.

Each command group lives next to what it drives and imports its heavy dependencies (duckdb,
pulumi, ...) inside the commands, so `trader --help` stays fast and the service image stays small.
"""

import typer

cli = typer.Typer(
    name="trader",
    help="Solo Trader Stack: run the service, deploy it, back it up, review your trading.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

from app.ops.lab.cli import lab_cli  # noqa: E402

cli.add_typer(lab_cli, name="lab")

from app.ops.inventory import inventory_command  # noqa: E402

cli.command("inventory")(inventory_command)

from app.ops.review.cli import review_cli  # noqa: E402

cli.add_typer(review_cli, name="review")

from app.ops.backup.cli import backup_cli  # noqa: E402

cli.add_typer(backup_cli, name="backup")

from app.service_cli import dev_command, migrate_command, serve_command  # noqa: E402

cli.command("serve")(serve_command)
cli.command("migrate")(migrate_command)
cli.command("dev")(dev_command)

from backtests.cli import backtest_cli, data_cli  # noqa: E402

cli.add_typer(data_cli, name="data")
cli.add_typer(backtest_cli, name="backtest")


def main() -> None:
    cli()
