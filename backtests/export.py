"""`trader data export`: the `features` and `trades` tables into Parquet, one exchange date at a
time (memory stays at one day's rows), replacing that date's partitions.

A feature row's payload must carry the keys scoring needs (layout.PAYLOAD_REQUIRED); they become
typed columns, the full payload is kept as JSON text. Rows repeated with the same (symbol, ts,
horizon) are exported once: the one with the highest id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

from backtests.errors import BacktestInputError
from backtests.layout import (
    DIRECTION_WORDS,
    EXCHANGE_TZ,
    FEATURES,
    PAYLOAD_OPTIONAL,
    PAYLOAD_REQUIRED,
    TRADES,
)
from backtests.store import DataRoot

if TYPE_CHECKING:
    import asyncpg
    import pyarrow as pa

NUMERIC_KEYS = ("probability", "expected_value", "price", *PAYLOAD_OPTIONAL)
_UP = [w for w, v in DIRECTION_WORDS.items() if v == 1]
_DOWN = [w for w, v in DIRECTION_WORDS.items() if v == -1]

FEATURES_SQL = f"""
select distinct on (symbol, ts, horizon)
    id, ts, symbol, horizon,
    case when lower(payload->>'direction') = any($3::text[]) then 1
         when lower(payload->>'direction') = any($4::text[]) then -1 end::smallint as direction,
    {", ".join(f"(payload->>'{k}')::float8 as {k}" for k in NUMERIC_KEYS)},
    payload::text as payload
from features
where (ts at time zone '{EXCHANGE_TZ}')::date between $1 and $2
order by symbol, ts, horizon, id desc
"""
TRADES_SQL = f"""
select id, ts, symbol, side, type, qty::float8 as qty, avg_price::float8 as avg_price,
    pnl::float8 as pnl, tags
from trades where (ts at time zone '{EXCHANGE_TZ}')::date between $1 and $2 order by ts, id
"""


async def check_payloads(conn: asyncpg.Connection, start: date, end: date) -> None:
    """Fail naming the payload keys that are missing or of the wrong type, with an example id."""
    rows = await conn.fetch(
        f"""
        select k.key, count(*) as n, min(f.id) as example
        from features f cross join lateral (
            select key from unnest($3::text[]) key where not f.payload ? key
               or (key = any($4::text[]) and jsonb_typeof(f.payload->key) not in ('number', 'null'))
               or (key = 'direction' and lower(f.payload->>'direction') <> all($5::text[]))
        ) k
        where (f.ts at time zone '{EXCHANGE_TZ}')::date between $1 and $2
        group by k.key order by k.key
        """,
        start,
        end,
        list(PAYLOAD_REQUIRED),
        list(NUMERIC_KEYS),
        list(DIRECTION_WORDS),
    )
    if rows:
        detail = "; ".join(f"{r['key']}: {r['n']} rows, e.g. id {r['example']}" for r in rows)
        raise BacktestInputError(
            f"feature payloads lack keys or carry wrong types ({detail}); required: "
            f"{', '.join(PAYLOAD_REQUIRED)} (numbers; direction one of {', '.join(DIRECTION_WORDS)})",
            source="features.payload",
            missing=[r["key"] for r in rows],
        )


def _table(records: list) -> pa.Table:
    from zoneinfo import ZoneInfo

    import pyarrow as pa

    tz = ZoneInfo(EXCHANGE_TZ)
    cols = {k: [r[k] for r in records] for k in dict(records[0])}  # a Record iterates values
    cols["date"] = [t.astimezone(tz).date() for t in cols["ts"]]
    types = {"ts": pa.timestamp("us", tz="UTC"), "direction": pa.int8(), "tags": pa.list_(pa.string())}
    return pa.table({k: pa.array(v, types.get(k)) for k, v in cols.items()})


async def export(
    database_url: str,
    root: DataRoot,
    start: date,
    end: date,
    on_day: Callable[[date, int, int], None] = lambda *_: None,
) -> dict[str, int]:
    """Export both tables for exchange dates start..end; returns rows written per table."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        await check_payloads(conn, start, end)
        days = await conn.fetch(
            f"select distinct (ts at time zone '{EXCHANGE_TZ}')::date as d from features "
            f"where (ts at time zone '{EXCHANGE_TZ}')::date between $1 and $2 union "
            f"select distinct (ts at time zone '{EXCHANGE_TZ}')::date from trades "
            f"where (ts at time zone '{EXCHANGE_TZ}')::date between $1 and $2 order by 1",
            start,
            end,
        )
        counts = {"features": 0, "trades": 0}
        for (day,) in days:
            feats = await conn.fetch(FEATURES_SQL, day, day, _UP, _DOWN)
            trades = await conn.fetch(TRADES_SQL, day, day)
            if feats:
                root.write(FEATURES, _table(feats))
            if trades:
                root.write(TRADES, _table(trades))
            counts["features"] += len(feats)
            counts["trades"] += len(trades)
            on_day(day, len(feats), len(trades))
        return counts
    finally:
        await conn.close()
