"""`trader data ...` (bars, export, synth) and `trader backtest run`.

Options shared by several commands are declared once below. Heavy imports (duckdb, pyarrow,
matplotlib, the provider stack) happen inside the commands so `trader --help` stays fast.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from backtests.errors import BacktestInputError

data_cli = typer.Typer(
    help="Market data, snapshots and trades as Parquet for backtests.", no_args_is_help=True
)
backtest_cli = typer.Typer(help="Score snapshot signals against realized returns.", no_args_is_help=True)
console = Console(stderr=True, soft_wrap=True)  # paths stay whole, whatever the terminal width

DataRootOpt = Annotated[
    str, typer.Option("--data", envvar="BACKTEST_DATA", help="data root: a folder or s3://bucket/prefix")
]
StartOpt = Annotated[
    datetime | None, typer.Option(formats=["%Y-%m-%d"], help="first exchange date (YYYY-MM-DD)")
]
EndOpt = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="last exchange date")]
SymbolsOpt = Annotated[str, typer.Option(help="comma-separated symbols, e.g. SPY,AAPL")]
S3EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--s3-endpoint",
        envvar="AWS_ENDPOINT_URL",
        help="S3 endpoint (Spaces: https://REGION.digitaloceanspaces.com)",
    ),
]


def _symbols(raw: str) -> list[str]:
    symbols = [s.strip().upper() for s in raw.split(",") if s.strip()]
    if not symbols:
        raise typer.BadParameter("give at least one symbol, e.g. --symbols SPY,AAPL", param_hint="--symbols")
    return symbols


def _day(value: object | None) -> date | None:
    return value.date() if isinstance(value, datetime) else None


def _root(data: str, s3_endpoint: str | None):
    from backtests.store import DataRoot, S3Options

    opts = S3Options.from_env()
    return DataRoot(data, S3Options(s3_endpoint, opts.access_key, opts.secret_key, opts.region))


def _fail(exc: Exception) -> typer.Exit:
    console.print(f"[red]error:[/red] {exc}")
    return typer.Exit(1)


@data_cli.command("synth")
def synth_command(
    data: DataRootOpt = "data",
    symbols: SymbolsOpt = "AAA,BBB,CCC",
    start: StartOpt = None,
    days: Annotated[int, typer.Option(min=2, help="trading days")] = 20,
    per_day: Annotated[int, typer.Option(min=1, help="snapshots per symbol and day")] = 200,
    horizons: Annotated[str, typer.Option(help="comma-separated, each Nm, Nh or Nd")] = "15m,60m,1d",
    slope: Annotated[float, typer.Option(help="calibration slope: 1 = calibrated edge, 0 = no edge")] = 1.0,
    p_low: Annotated[float, typer.Option(min=0.5, max=1.0)] = 0.5,
    p_high: Annotated[float, typer.Option(min=0.5, max=1.0)] = 0.8,
    seed: int = 7,
    s3_endpoint: S3EndpointOpt = None,
) -> None:
    """Write synthetic bars, snapshots and trades with a known edge (truth in synth_truth.json)."""
    from backtests.synth import SynthSpec, generate

    if p_low > p_high:
        raise typer.BadParameter("--p-low must not exceed --p-high", param_hint="--p-low")
    spec = SynthSpec(
        symbols=_symbols(symbols),
        days=days,
        snapshots_per_day=per_day,
        horizons=[h.strip() for h in horizons.split(",") if h.strip()],
        slope=slope,
        p_low=p_low,
        p_high=p_high,
        seed=seed,
        **({"start": _day(start)} if start else {}),
    )
    try:
        with console.status("generating..."):
            truth = generate(spec, _root(data, s3_endpoint))
    except BacktestInputError as exc:
        raise _fail(exc) from exc
    rows = ", ".join(f"{v:,} {k}" for k, v in truth["rows"].items())
    console.print(f"wrote {rows} to {data}; expected hit rate {truth['expected_hit_rate']:.3f}")


@data_cli.command("export")
def export_command(
    database_url: Annotated[str, typer.Option(envvar="DATABASE_URL", help="postgresql://...")],
    start: StartOpt = None,
    end: EndOpt = None,
    data: DataRootOpt = "data",
    s3_endpoint: S3EndpointOpt = None,
) -> None:
    """Export `features` (as snapshots) and `trades` from the database to Parquet."""
    from rich.progress import Progress

    from backtests.export import export

    first, last = _day(start) or date(1970, 1, 1), _day(end) or date(9999, 12, 31)
    try:
        root = _root(data, s3_endpoint)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("exporting", total=None)
            counts = asyncio.run(
                export(
                    database_url,
                    root,
                    first,
                    last,
                    lambda d, f, t: progress.update(task, description=f"{d}: {f} features, {t} trades"),
                )
            )
    except (BacktestInputError, OSError) as exc:
        raise _fail(exc) from exc
    console.print(f"exported {counts['features']:,} features and {counts['trades']:,} trades to {data}")


@data_cli.command("bars")
def bars_command(
    symbols: SymbolsOpt,
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="first exchange date")],
    end: EndOpt = None,
    timespan: Annotated[str, typer.Option(help="day or minute")] = "day",
    data: DataRootOpt = "data",
    s3_endpoint: S3EndpointOpt = None,
) -> None:
    """Download Polygon aggregates for the days not stored yet (POLYGON_API_KEY, POLYGON_API_RATE)."""
    if timespan not in ("day", "minute"):
        raise typer.BadParameter(f"{timespan!r}: use day or minute", param_hint="--timespan")
    from prometheus_client import CollectorRegistry
    from rich.progress import Progress

    from app.core.config import SettingsError, load_settings
    from app.metrics import Metrics
    from app.providers.http import ProviderError
    from app.providers.registry import open_polygon
    from backtests.bars import download

    try:
        settings = load_settings(TRADER_DEV_ALLOW_NO_TOKEN=True)  # no API token: this is not the service
    except SettingsError as exc:
        raise _fail(exc) from exc
    key = settings.polygon_api_key
    client = open_polygon(settings, Metrics(CollectorRegistry())) if key and key.get_secret_value() else None
    if client is None:
        raise _fail(ValueError("POLYGON_API_KEY is not set: export your Polygon API key"))
    names = _symbols(symbols)

    async def go() -> dict[str, int]:
        try:
            with Progress(console=console) as progress:
                task = progress.add_task("bars", total=len(names))

                def on_request(symbol: str, a: date, b: date) -> None:
                    progress.update(task, description=f"{symbol} {a}..{b}")

                done: dict[str, int] = {}
                for symbol in names:
                    done |= await download(
                        client, root, [symbol], _day(start), _day(end) or date.max, timespan, on_request
                    )
                    progress.advance(task)
                return done
        finally:
            await client.aclose()

    try:
        root = _root(data, s3_endpoint)
        written = asyncio.run(go())
    except (BacktestInputError, ProviderError, OSError) as exc:
        raise _fail(exc) from exc
    total = sum(written.values())
    console.print(
        f"stored {total:,} new {timespan} bars "
        f"({', '.join(f'{s}: {n}' for s, n in written.items())}) under {data}"
    )


@backtest_cli.command("run")
def run_command(
    data: DataRootOpt = "data",
    out: Annotated[Path, typer.Option(help="report folder")] = Path("reports"),
    start: StartOpt = None,
    end: EndOpt = None,
    memory_limit: Annotated[
        str, typer.Option(envvar="BACKTEST_MEMORY_LIMIT", help="DuckDB memory cap, e.g. 2GB")
    ] = "2GB",
    threads: Annotated[int | None, typer.Option(min=1, help="DuckDB threads (default: all cores)")] = None,
    slippage_bps: Annotated[
        float, typer.Option(min=0, help="modelled cost per side on top of half the spread")
    ] = 2.0,
    min_trades: Annotated[
        int, typer.Option(min=1, help="fills a spread bucket needs to use observed slippage")
    ] = 5,
    notional: Annotated[float, typer.Option(min=0, help="P&L per acted-on snapshot")] = 1000.0,
    keep_duplicates: Annotated[
        bool, typer.Option(help="skip dropping repeated (symbol, ts, horizon) rows")
    ] = False,
    exchange_tz: Annotated[
        str, typer.Option(help="exchange time zone (sessions, hour buckets)")
    ] = "America/New_York",
    plots: Annotated[bool, typer.Option(help="write PNG plots")] = True,
    s3_endpoint: S3EndpointOpt = None,
) -> None:
    """Score snapshots and write CSV tables, summary.md and plots into --out."""
    from backtests.report import RunOptions, run
    from backtests.scoring import ScoringParams
    from backtests.store import S3Options

    params = ScoringParams(
        start=_day(start),
        end=_day(end),
        exchange_tz=exchange_tz,
        slippage_bps=slippage_bps,
        min_trades=min_trades,
        notional=notional,
        drop_duplicates=not keep_duplicates,
    )
    env = S3Options.from_env()
    try:
        with console.status(f"scoring snapshots under {data}..."):
            scores, written = run(
                RunOptions(data, out, memory_limit, threads, plots),
                params,
                S3Options(s3_endpoint, env.access_key, env.secret_key, env.region),
            )
    except BacktestInputError as exc:
        raise _fail(exc) from exc
    from backtests.render import verdict

    console.print(verdict(scores))
    console.print(f"wrote {len(written)} files to {out}/ (start with {out / 'summary.md'})")
