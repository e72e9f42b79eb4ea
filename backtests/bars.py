"""`trader data bars`: Polygon aggregates into Parquet, fetching only the days not stored yet.

Uses the service's PolygonClient, so requests follow the shared HTTP policy (POLYGON_API_RATE
requests a minute, retries on 429/5xx honouring Retry-After). Minute bars are stored one folder
per symbol and exchange date; daily bars one folder per symbol and year (a year is rewritten
when days are added to it). Today's session is never stored: it is not finished.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from backtests.layout import BARS_DAY, BARS_MINUTE, EXCHANGE_TZ, Dataset
from backtests.store import DataRoot

if TYPE_CHECKING:
    import pyarrow as pa

    from app.providers.polygon import Bar, PolygonClient

TIMESPANS = {"minute": BARS_MINUTE, "day": BARS_DAY}


def weekdays(start: date, end: date) -> list[date]:
    return [
        start + timedelta(days=i)
        for i in range((end - start).days + 1)
        if (start + timedelta(days=i)).weekday() < 5
    ]


def ranges(days: list[date]) -> list[tuple[date, date]]:
    """Contiguous runs of weekdays (a weekend does not break a run)."""
    out: list[tuple[date, date]] = []
    for d in days:
        if (
            out
            and (d - out[-1][1]).days <= 3
            and all((out[-1][1] + timedelta(days=i)).weekday() >= 5 for i in range(1, (d - out[-1][1]).days))
        ):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out


def stored_days(root: DataRoot, ds: Dataset, symbol: str) -> set[date]:
    """Exchange dates already stored for `symbol`."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    files = [f for f in root.files(ds) if f"/symbol={symbol}/" in f]
    if ds is BARS_MINUTE:
        return {date.fromisoformat(f.split("/date=")[1].split("/")[0]) for f in files}
    tz = ZoneInfo(EXCHANGE_TZ)
    days: set[date] = set()
    for f in files:
        ts = pq.read_table(f, columns=["ts"], filesystem=root.fs)["ts"]
        days |= {t.astimezone(tz).date() for t in pc.unique(ts).to_pylist()}
    return days


def to_table(symbol: str, bars: list[Bar], ds: Dataset) -> pa.Table:
    import pyarrow as pa

    tz = ZoneInfo(EXCHANGE_TZ)
    local = [b.start.astimezone(tz).date() for b in bars]
    part = pa.array(local) if ds is BARS_MINUTE else pa.array([d.year for d in local], pa.int32())
    return pa.table(
        {
            "ts": pa.array([b.start for b in bars], pa.timestamp("us", tz="UTC")),
            "open": [b.open for b in bars],
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [b.volume for b in bars],
            "vwap": pa.array([b.vwap for b in bars], pa.float64()),
            "transactions": pa.array([b.transactions for b in bars], pa.int64()),
            "symbol": pa.array([symbol] * len(bars)),
            ds.partitions[1][0]: part,
        }
    )


async def download(
    client: PolygonClient,
    root: DataRoot,
    symbols: list[str],
    start: date,
    end: date,
    timespan: str,
    on_request: Callable[[str, date, date], None] = lambda *_: None,
) -> dict[str, int]:
    """Fetch and store what is missing; returns bars written per symbol."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ds = TIMESPANS[timespan]
    end = min(end, datetime.now(ZoneInfo(EXCHANGE_TZ)).date() - timedelta(days=1))
    written: dict[str, int] = {}
    for symbol in symbols:
        have = stored_days(root, ds, symbol)
        missing = [d for d in weekdays(start, end) if d not in have]
        new: list[Bar] = []
        for a, b in ranges(missing):
            on_request(symbol, a, b)
            new += await client.aggregates(symbol, 1, timespan, a, b)
        written[symbol] = len(new)
        if not new:
            continue
        table = to_table(symbol, new, ds)
        if ds is BARS_DAY:  # a year folder is rewritten whole: keep the days it already had
            years = set(pc.unique(table["year"]).to_pylist())
            old = [
                _stored_year(root, f, symbol, table.schema)
                for f in root.files(ds)
                if f"/symbol={symbol}/" in f
            ]
            table = pa.concat_tables([*(o for o in old if o["year"][0].as_py() in years), table])
        root.write(ds, table)
    return written


def _stored_year(root: DataRoot, path: str, symbol: str, schema: pa.Schema) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path, filesystem=root.fs)
    year = int(path.split("/year=")[1].split("/")[0])
    table = table.append_column("symbol", pa.array([symbol] * table.num_rows))
    table = table.append_column("year", pa.array([year] * table.num_rows, pa.int32()))
    return table.select(schema.names).cast(schema)
