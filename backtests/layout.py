"""What each Parquet data set holds and where it lives under a data root (folder or s3:// URL).

Every data set is hive-partitioned by symbol and a date key, so a scan of one symbol or one range
reads only those folders and `trader data bars` can tell which days it already has.
"""

import re
from dataclasses import dataclass

from backtests.errors import BacktestInputError

EXCHANGE_TZ = "America/New_York"  # sessions, daily bars and time-of-day buckets are in exchange time
SESSION_CLOSE = "16:00"  # a daily bar's close is taken at this exchange-local time


@dataclass(frozen=True)
class Dataset:
    name: str  # the DuckDB view the SQL reads
    path: str  # under the data root
    partitions: tuple[tuple[str, str], ...]  # hive keys and their DuckDB types
    required: tuple[str, ...]  # columns scoring cannot do without
    optional: tuple[str, ...] = ()
    key: tuple[str, ...] = ()  # what identifies a row; repeats count once (see DataRoot.key_proven_unique)


BARS_MINUTE = Dataset(
    "bars_minute",
    "bars/timespan=minute",
    (("symbol", "VARCHAR"), ("date", "DATE")),
    required=("ts", "close"),
    optional=("open", "high", "low", "volume", "vwap", "transactions"),
)
BARS_DAY = Dataset(
    "bars_day",
    "bars/timespan=day",
    (("symbol", "VARCHAR"), ("year", "INTEGER")),
    required=("ts", "close"),
    optional=("open", "high", "low", "volume", "vwap", "transactions"),
)
# Snapshots are the `features` table: the payload's keys become typed columns on export.
FEATURES = Dataset(
    "features",
    "features",
    (("symbol", "VARCHAR"), ("date", "DATE")),
    required=("ts", "horizon", "direction", "probability", "expected_value", "price"),
    optional=("id", "spread_bps", "volatility", "payload"),
    key=("symbol", "ts", "horizon"),
)
TRADES = Dataset(
    "trades",
    "trades",
    (("symbol", "VARCHAR"), ("date", "DATE")),
    required=("ts", "side", "qty", "avg_price"),
    optional=("id", "type", "pnl", "tags"),
)
DATASETS = {d.name: d for d in (BARS_MINUTE, BARS_DAY, FEATURES, TRADES)}

# Payload keys of a `features` row that scoring needs, and how export names their columns.
PAYLOAD_REQUIRED = ("direction", "probability", "expected_value", "price")
PAYLOAD_OPTIONAL = ("spread_bps", "volatility")
DIRECTION_WORDS = {
    "up": 1,
    "long": 1,
    "buy": 1,
    "1": 1,
    "+1": 1,
    "down": -1,
    "short": -1,
    "sell": -1,
    "-1": -1,
}

_HORIZON = re.compile(r"^(\d+)(m|h|d)$")


@dataclass(frozen=True)
class Horizon:
    label: str
    unit: str  # "minute": scored on minute bars; "day": on daily session closes
    n: int  # minutes for "minute", sessions for "day"


def parse_horizon(label: str) -> Horizon:
    """`15m`/`2h` are wall-clock minutes scored on minute bars; `5d` is five trading sessions."""
    match = _HORIZON.match(label.strip())
    if not match or int(match.group(1)) == 0:
        raise BacktestInputError(
            f"horizon {label!r} is not one of Nm, Nh, Nd with N >= 1 (e.g. 15m, 1h, 5d)", source="horizon"
        )
    n, unit = int(match.group(1)), match.group(2)
    if unit == "d":
        return Horizon(label, "day", n)
    return Horizon(label, "minute", n * (60 if unit == "h" else 1))
