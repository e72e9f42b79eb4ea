"""The `trader` command: one entry point for every operator action.

Each command group lives next to what it drives and imports its heavy dependencies (duckdb,
pulumi, ...) inside the commands, so `trader --help` stays fast and the service image stays small.
"""

import typer

from app.ops.backup.cli import backup_cli
from app.ops.deploy import deploy_command
from app.ops.images.cli import images_cli
from app.ops.inventory import inventory_command
from app.ops.lab.cli import lab_cli
from app.ops.logs.cli import logs_cli
from app.ops.review.cli import review_cli
from app.service_cli import dev_command, migrate_command, serve_command
from backtests.cli import backtest_cli, data_cli

cli = typer.Typer(
    name="trader",
    help="Solo Trader Stack: run the service, deploy it, back it up, review your trading.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

# Service first, then deployment, then the operator's data and review tools.
cli.command("serve")(serve_command)
cli.command("migrate")(migrate_command)
cli.command("dev")(dev_command)
cli.command("deploy")(deploy_command)
cli.add_typer(lab_cli, name="lab")
cli.add_typer(images_cli, name="images")
cli.command("inventory")(inventory_command)
cli.add_typer(backup_cli, name="backup")
cli.add_typer(logs_cli, name="logs")
cli.add_typer(data_cli, name="data")
cli.add_typer(backtest_cli, name="backtest")
cli.add_typer(review_cli, name="review")


def main() -> None:
    cli()
