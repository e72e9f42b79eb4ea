"""Factories for backtest tests: tiny hand-made data sets with exactly known answers, written
through the package's own store, and a one-call scorer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa

from backtests.layout import BARS_DAY, BARS_MINUTE, EXCHANGE_TZ, FEATURES, TRADES
from backtests.report import score_root
from backtests.scoring import Scores, ScoringParams
from backtests.store import DataRoot, connect

NY = ZoneInfo(EXCHANGE_TZ)


def ny(day: date, hh: int, mm: int, ss: int = 0) -> datetime:
    """An exchange-time wall clock as an aware UTC datetime."""
    return datetime(day.year, day.month, day.day, hh, mm, ss, tzinfo=NY).astimezone(UTC)


def minute_bars(root: DataRoot, symbol: str, bars: list[tuple[datetime, float]]) -> None:
    """(bar start, close) pairs."""
    root.write(
        BARS_MINUTE,
        pa.table(
            {
                "ts": pa.array([t for t, _ in bars], pa.timestamp("us", tz="UTC")),
                "close": [c for _, c in bars],
                "symbol": [symbol] * len(bars),
                "date": [t.astimezone(NY).date() for t, _ in bars],
            }
        ),
    )


def session_bars(
    root: DataRoot, symbol: str, day: date, closes: list[float], skip: set[int] = frozenset()
) -> None:
    """Minute bars from 09:30 exchange time, one per close, leaving out the indexes in `skip`."""
    minute_bars(
        root,
        symbol,
        [(ny(day, 9, 30) + timedelta(minutes=i), c) for i, c in enumerate(closes) if i not in skip],
    )


def daily_bars(root: DataRoot, symbol: str, closes: dict[date, float]) -> None:
    """Daily bars stamped like Polygon's: midnight exchange time of the session."""
    days = sorted(closes)
    root.write(
        BARS_DAY,
        pa.table(
            {
                "ts": pa.array([ny(d, 0, 0) for d in days], pa.timestamp("us", tz="UTC")),
                "close": [closes[d] for d in days],
                "symbol": [symbol] * len(days),
                "year": pa.array([d.year for d in days], pa.int32()),
            }
        ),
    )


def snapshots(root: DataRoot, rows: list[dict]) -> None:
    """rows: symbol, ts, horizon, direction, probability, price (expected_value defaults to 0.001)."""
    root.write(
        FEATURES,
        pa.table(
            {
                "id": pa.array(range(1, len(rows) + 1), pa.int64()),
                "ts": pa.array([r["ts"] for r in rows], pa.timestamp("us", tz="UTC")),
                "horizon": [r["horizon"] for r in rows],
                "direction": pa.array([r["direction"] for r in rows], pa.int8()),
                "probability": [r["probability"] for r in rows],
                "expected_value": [r.get("expected_value", 0.001) for r in rows],
                "price": [r["price"] for r in rows],
                "symbol": [r["symbol"] for r in rows],
                "date": [r["ts"].astimezone(NY).date() for r in rows],
            }
        ),
    )


def fills(root: DataRoot, rows: list[tuple[str, datetime, str, float]]) -> None:
    """(symbol, ts, side, avg_price) fills of 10 shares."""
    root.write(
        TRADES,
        pa.table(
            {
                "ts": pa.array([t for _, t, _, _ in rows], pa.timestamp("us", tz="UTC")),
                "side": [side for _, _, side, _ in rows],
                "qty": [10.0] * len(rows),
                "avg_price": [p for _, _, _, p in rows],
                "symbol": [sym for sym, _, _, _ in rows],
                "date": [t.astimezone(NY).date() for _, t, _, _ in rows],
            }
        ),
    )


def run_score(data: Path | str, **params: object) -> Scores:
    root = DataRoot(str(data))
    conn = connect("1GB", 2)
    try:
        return score_root(root, conn, ScoringParams(**params))  # type: ignore[arg-type]
    finally:
        conn.close()


def proven_unique(root: DataRoot) -> bool:
    conn = connect("1GB", 2)
    try:
        return root.key_proven_unique(conn, FEATURES)
    finally:
        conn.close()


def reasons(scores: Scores) -> dict[str, int]:
    return {r["reason"]: r["rows"] for r in scores.groups["reason"]}
