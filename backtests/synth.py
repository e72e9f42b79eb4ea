"""Synthetic bars, snapshots and trades with a known edge, for tests, demos and the benchmark.

Prices are a random walk on a regular 09:30-16:00 exchange-time minute grid (weekdays, no holiday
calendar). Each snapshot predicts a direction with probability `p` drawn from [p_low, p_high]; the
prediction is right with probability `0.5 + slope * (p - 0.5)`, so `slope=1` is perfectly
calibrated, `slope=0` has no edge at all. The generator works out every realized forward return
itself on its own arrays (not with the scoring SQL), which makes it an independent ground truth.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from backtests.layout import BARS_DAY, BARS_MINUTE, EXCHANGE_TZ, FEATURES, TRADES, parse_horizon
from backtests.store import DataRoot

MINUTES = 390  # 09:30-16:00
TRUTH_FILE = "synth_truth.json"


@dataclass
class SynthSpec:
    symbols: list[str] = field(default_factory=lambda: ["AAA", "BBB", "CCC"])
    start: date = date(2024, 1, 2)
    days: int = 20  # trading days (weekdays)
    snapshots_per_day: int = 200  # per symbol
    horizons: list[str] = field(default_factory=lambda: ["15m", "60m", "1d"])
    p_low: float = 0.5
    p_high: float = 0.8
    slope: float = 1.0  # 1 = calibrated edge, 0 = no edge
    minute_vol: float = 0.001  # stdev of one-minute log returns
    trades_per_day: int = 2  # per symbol; fills carry a known slippage
    slippage_bps: float = 3.0  # plus half the spread
    seed: int = 7


def trading_days(start: date, n: int) -> list[date]:
    days, d = [], start
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _session_opens(days: list[date]) -> np.ndarray:
    """Each session's 09:30 exchange time as UTC epoch seconds (follows daylight saving)."""
    tz = ZoneInfo(EXCHANGE_TZ)
    return np.array([datetime.combine(d, time(9, 30), tz).timestamp() for d in days], dtype=np.int64)


def _midnights(days: list[date]) -> np.ndarray:
    tz = ZoneInfo(EXCHANGE_TZ)
    return np.array([datetime.combine(d, time(0, 0), tz).timestamp() for d in days], dtype=np.int64)


def generate(spec: SynthSpec, root: DataRoot) -> dict:
    """Write bars, features and trades for every symbol; returns (and stores) the truth."""
    import pyarrow as pa

    days = trading_days(spec.start, spec.days)
    opens, midnights = _session_opens(days), _midnights(days)
    dates = np.array(days, dtype="datetime64[D]")
    horizons = [parse_horizon(h) for h in spec.horizons]
    rng = np.random.default_rng(spec.seed)
    totals = {"snapshots": 0, "bars_minute": 0, "bars_day": 0, "trades": 0, "true_hit_sum": 0.0}
    next_id = 1
    for symbol in spec.symbols:
        n_days = len(days)
        # --- minute bars: one continuous walk, overnight moves like 30 quiet minutes
        steps = rng.normal(0.0, spec.minute_vol, (n_days, MINUTES))
        steps[:, 0] += rng.normal(0.0, spec.minute_vol * np.sqrt(30), n_days)
        close = 100.0 * np.exp(np.cumsum(steps.ravel())).reshape(n_days, MINUTES)
        open_ = np.concatenate([[100.0], close.ravel()[:-1]]).reshape(n_days, MINUTES)
        wiggle = np.abs(rng.normal(0, spec.minute_vol / 2, (n_days, MINUTES)))
        bar_ts = opens[:, None] + 60 * np.arange(MINUTES)[None, :]
        minute = pa.table(
            {
                "ts": pa.array((bar_ts.ravel() * 1_000_000), pa.timestamp("us", tz="UTC")),
                "open": open_.ravel(),
                "high": np.maximum(open_, close).ravel() * (1 + wiggle.ravel()),
                "low": np.minimum(open_, close).ravel() * (1 - wiggle.ravel()),
                "close": close.ravel(),
                "volume": rng.integers(100, 10_000, n_days * MINUTES).astype(np.float64),
                "symbol": pa.array([symbol] * (n_days * MINUTES)),
                "date": pa.array(np.repeat(dates, MINUTES)),
            }
        )
        root.write(BARS_MINUTE, minute)
        day_close = close[:, -1]
        daily = pa.table(
            {
                "ts": pa.array(midnights * 1_000_000, pa.timestamp("us", tz="UTC")),
                "open": open_[:, 0],
                "high": close.max(axis=1),
                "low": close.min(axis=1),
                "close": day_close,
                "volume": np.full(n_days, 1e6),
                "symbol": pa.array([symbol] * n_days),
                "year": pa.array([d.year for d in days], pa.int32()),
            }
        )
        root.write(BARS_DAY, daily)

        # --- snapshots: at bar i's end plus a few seconds, so bar i is the latest completed bar
        # distinct seconds within each day (never after the last bar: a bar must follow), so no
        # two snapshots share (symbol, ts, horizon)
        k = min(spec.snapshots_per_day, (MINUTES - 1) * 60)
        slot = np.sort(rng.random((n_days, (MINUTES - 1) * 60)).argpartition(k - 1, axis=1)[:, :k], axis=1)
        day_idx = np.repeat(np.arange(n_days), k)
        bar_idx, second = slot.ravel() // 60, slot.ravel() % 60
        h_idx = rng.integers(0, len(horizons), n_days * k)
        price = close[day_idx, bar_idx]
        exit_price = np.empty_like(price)
        for j, h in enumerate(horizons):
            sel = h_idx == j
            if h.unit == "minute":
                end = bar_idx[sel] + h.n
                # past the close the exit is the close, unless the data ends there
                last_day = (day_idx[sel] == n_days - 1) & (end > MINUTES - 1)
                px = close[day_idx[sel], np.minimum(end, MINUTES - 1)]
                exit_price[sel] = np.where(last_day, np.nan, px)
            else:  # the n-th session close after the snapshot: today's close is the first
                last = day_idx[sel] + h.n - 1
                exit_price[sel] = np.where(last < n_days, day_close[np.minimum(last, n_days - 1)], np.nan)
        keep = ~np.isnan(exit_price)  # horizons running past the data are not generated
        day_idx, bar_idx, second, h_idx, price, exit_price = (
            a[keep] for a in (day_idx, bar_idx, second, h_idx, price, exit_price)
        )
        n = len(price)
        ret = exit_price / price - 1.0
        p = rng.uniform(spec.p_low, spec.p_high, n)
        true_p = 0.5 + spec.slope * (p - 0.5)
        right = rng.random(n) < true_p
        direction = np.where(right == (ret > 0), 1, -1).astype(np.int8)
        # predicted EV: (2p - 1) times the typical absolute move of that horizon
        mean_abs = np.array(
            [np.abs(ret[h_idx == j]).mean() if (h_idx == j).any() else 0.0 for j in range(len(horizons))]
        )
        ev = (2 * p - 1) * mean_abs[h_idx]
        ts = opens[day_idx] + 60 * (bar_idx + 1) + second
        spread = rng.uniform(1.0, 30.0, n)
        labels = np.array([h.label for h in horizons])
        features = pa.table(
            {
                "id": np.arange(next_id, next_id + n, dtype=np.int64),
                "ts": pa.array(ts * 1_000_000, pa.timestamp("us", tz="UTC")),
                "horizon": pa.array(labels[h_idx]),
                "direction": direction,
                "probability": p,
                "expected_value": ev,
                "price": price,
                "spread_bps": spread,
                "volatility": np.full(n, spec.minute_vol * np.sqrt(MINUTES)),
                "symbol": pa.array([symbol] * n),
                "date": pa.array(dates[day_idx]),
            }
        )
        root.write(FEATURES, features)
        next_id += n

        # --- trades: fills a few seconds after some snapshots, at a known slippage
        t = min(spec.trades_per_day * n_days, n)
        pick = rng.choice(n, t, replace=False)
        sign = direction[pick].astype(np.float64)
        slip = spec.slippage_bps + spread[pick] / 2
        trades = pa.table(
            {
                "id": np.arange(1, t + 1, dtype=np.int64),
                "ts": pa.array((ts[pick] + 2) * 1_000_000, pa.timestamp("us", tz="UTC")),
                "side": pa.array(np.where(sign > 0, "buy", "sell_short")),
                "type": pa.array(["market"] * t),
                "qty": rng.integers(1, 500, t).astype(np.float64),
                "avg_price": price[pick] * (1 + sign * slip / 1e4),
                "symbol": pa.array([symbol] * t),
                "date": pa.array(dates[day_idx[pick]]),
            }
        )
        root.write(TRADES, trades)

        totals["snapshots"] += n
        totals["bars_minute"] += minute.num_rows
        totals["bars_day"] += daily.num_rows
        totals["trades"] += t
        totals["true_hit_sum"] += float(true_p.sum())
    truth = {
        "spec": asdict(spec) | {"start": spec.start.isoformat()},
        "rows": {k: v for k, v in totals.items() if k != "true_hit_sum"},
        "expected_hit_rate": totals["true_hit_sum"] / max(totals["snapshots"], 1),
    }
    with root.fs.open_output_stream(f"{root.base}/{TRUTH_FILE}") as out:
        out.write(json.dumps(truth, indent=2).encode())
    return truth
