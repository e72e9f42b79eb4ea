"""Run a backtest: open the data root, validate, score, render, write `reports/`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from backtests import render
from backtests.layout import DATASETS, FEATURES
from backtests.scoring import Scores, ScoringParams, score
from backtests.store import DataRoot, S3Options, connect

if TYPE_CHECKING:
    import duckdb


@dataclass(frozen=True)
class RunOptions:
    data: str  # folder or s3://bucket/prefix
    out: Path = Path("reports")
    memory_limit: str = "2GB"
    threads: int | None = None
    plots: bool = True


def load(root: DataRoot, conn: duckdb.DuckDBPyConnection) -> set[str]:
    """Register every data set present; returns the names of those found."""
    return {name for name, ds in DATASETS.items() if root.register(conn, ds)}


def score_root(root: DataRoot, conn: duckdb.DuckDBPyConnection, params: ScoringParams) -> Scores:
    """Score everything under `root`; a reader failure names the corrupt file."""
    have = load(root, conn)
    with root.readable(*DATASETS.values()):
        unique = params.drop_duplicates and FEATURES.name in have and root.key_proven_unique(conn, FEATURES)
        return score(conn, have, params, root.url, key_proven_unique=unique)


def run(opts: RunOptions, params: ScoringParams, s3: S3Options | None = None) -> tuple[Scores, list[Path]]:
    root = DataRoot(opts.data, s3)
    opts.out.mkdir(parents=True, exist_ok=True)
    conn = connect(opts.memory_limit, opts.threads, temp_dir=opts.out / ".duckdb-tmp")
    try:
        scores = score_root(root, conn, params)
    finally:
        conn.close()
    written = [opts.out / f"{name}.csv" for name in scores.groups]
    for name, rows in scores.groups.items():
        (opts.out / f"{name}.csv").write_text(render.to_csv(rows))
    if scores.slippage:
        (opts.out / "slippage.csv").write_text(render.to_csv(scores.slippage))
        written.append(opts.out / "slippage.csv")
    (opts.out / "brier.csv").write_text(render.to_csv([scores.brier]))
    images = render.plots(scores, opts.out) if opts.plots else []
    (opts.out / "summary.md").write_text(render.markdown(scores, images))
    written += [opts.out / "brier.csv", *(opts.out / i for i in images), opts.out / "summary.md"]
    return scores, written
