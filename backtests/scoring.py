"""Compute: the scoring SQL. Every snapshot is joined to its realized forward return and all
bucket tables come out of ONE aggregation pass (GROUPING SETS), so memory stays bounded by
DuckDB's limit whatever the number of snapshots.

Realized return = exit close / snapshot price - 1, signed by the predicted direction.
- `Nm`/`Nh` horizons: the exit is the last minute bar that ended at or before ts + horizon; at
  least one bar must end inside the horizon (otherwise: no_bars_in_horizon, e.g. a halt or the
  market was closed). Minute bars are stamped with their start, so a bar ends one minute later.
- `Nd` horizons: the exit is the close of the N-th session closing after ts (16:00 exchange time);
  a snapshot at 11:00 with `1d` runs to that day's close, one at 18:00 to the next session's.
The exact exit lookups are equi-joins on precomputed keys (bars forward-filled minute by minute
over at most the longest horizon; sessions by calendar day), not per-row time zone conversions:
time zone offsets come from a small per-hour table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import pairwise
from typing import TYPE_CHECKING

from backtests.errors import BacktestInputError
from backtests.layout import EXCHANGE_TZ, FEATURES, Horizon, parse_horizon

if TYPE_CHECKING:
    import duckdb

SESSION_CLOSE_S = 16 * 3600
SPREAD_EDGES = (2, 5, 10, 20)  # bps
VOL_EDGES = (0.01, 0.02, 0.04)  # daily volatility, fraction
SIZE_EDGES = (1_000, 10_000, 100_000)  # trade notional
GROUPS = ("reason", "prob_bin", "symbol", "horizon", "hour", "spread_bucket", "vol_bucket", "day")
_MEASURES = [
    *((m, "bigint") for m in ("rows", "n", "hits", "spread_n", "taken")),
    *((m, "double") for m in ("p_sum", "ev_sum", "r_sum", "r2_sum", "brier_sum", "spread_sum", "slip_sum")),
    *((m, "double") for m in ("gross_sum", "net_sum")),
]


@dataclass(frozen=True)
class ScoringParams:
    start: date | None = None  # snapshot dates (exchange time), inclusive
    end: date | None = None
    exchange_tz: str = EXCHANGE_TZ
    slippage_bps: float = 2.0  # modelled cost per side on top of half the spread
    min_trades: int = 5  # fills needed before a bucket uses observed slippage instead of the model
    notional: float = 1_000.0  # per acted-on snapshot, for P&L
    trade_window_s: int = 300  # a fill is matched to the latest snapshot at most this much earlier
    drop_duplicates: bool = True  # same (symbol, ts, horizon) counted once
    z: float = 1.96  # 95 % intervals


@dataclass
class Scores:
    params: ScoringParams
    horizons: list[Horizon]
    rows_read: int
    duplicates: int
    groups: dict[str, list[dict]] = field(default_factory=dict)
    slippage: list[dict] = field(default_factory=list)
    brier: dict[str, float] = field(default_factory=dict)

    @property
    def overall(self) -> dict:
        return self.groups["overall"][0]


def bucket_labels(edges: tuple[float, ...]) -> list[str]:
    """Labels of the bucket numbers `_bucket_sql` gives: 0..len(edges), then 'unknown'."""
    bounds = [None, *edges, None]
    labels = [
        f"<{hi}" if lo is None else f">={lo}" if hi is None else f"{lo}-{hi}" for lo, hi in pairwise(bounds)
    ]
    return [f"{i}: {label}" for i, label in enumerate(labels)] + ["unknown"]


def _bucket_sql(col: str, edges: tuple[float, ...]) -> str:
    """The bucket number of `col` (integer keys keep the aggregation cheap); null goes last."""
    arms = " ".join(f"when {col} < {edge} then {i}" for i, edge in enumerate(edges))
    return f"case when {col} is null then {len(edges) + 1} {arms} else {len(edges)} end"


def _fetch(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _range(params: ScoringParams, pad_days: int = 0) -> str:
    """Partition filter on the stored exchange date (DuckDB skips the other folders); bars get
    `pad_days` more at the end so horizons that run past the last snapshot date find their exit."""
    conds = []
    if params.start:
        conds.append(f"date >= DATE '{params.start}'")
    if params.end:
        conds.append(f"date <= DATE '{params.end + timedelta(days=pad_days)}'")
    return " and ".join(conds) or "true"


def wilson(hits: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = hits / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (mid - half, mid + half)


def score(conn: duckdb.DuckDBPyConnection, have: set[str], params: ScoringParams, where: str) -> Scores:
    """Score the `features` view against `bars_minute`/`bars_day` (and `trades` when present).
    `have` names the views that exist; `where` is the data root, for messages."""
    if FEATURES.name not in have:
        raise BacktestInputError(
            "no snapshot files: run `trader data export` or `trader data synth`", source=where
        )
    cols = {r[0] for r in conn.execute(f"describe {FEATURES.name}").fetchall()}
    optional = ", ".join(c if c in cols else f"null::double as {c}" for c in ("spread_bps", "volatility"))
    conn.execute(
        f"create or replace temp view snap as select symbol, ts, horizon, direction, probability, "
        f"expected_value, price, {optional}, epoch_us(ts) // 1000000 as e, date from features"
    )
    found = _fetch(
        conn,
        f"select horizon, count(*) as n, min(e) as e0, max(e) as e1 from snap "
        f"where {_range(params)} group by horizon",
    )
    if not found or not sum(r["n"] for r in found):
        span = f"between {params.start or 'the first'} and {params.end or 'the last'} date"
        raise BacktestInputError(f"no snapshots {span}: widen --start/--end", source=f"{where}/features")
    horizons = [parse_horizon(r["horizon"]) for r in found]
    _check_horizons(horizons, have, where)
    _prepare(conn, have, params, horizons, min(r["e0"] for r in found), max(r["e1"] for r in found))
    slip_case = _slippage(conn, params) if "trades" in have else None

    spread_b = _bucket_sql("spread_bps", SPREAD_EDGES)
    slip_sql = f"{params.slippage_bps} + coalesce(spread_bps, 0) / 2"
    if slip_case:
        slip_sql = f"case {spread_b} {slip_case} else {slip_sql} end"
    source = "snap"
    if params.drop_duplicates:
        source = "(select distinct on (symbol, ts, horizon) * from snap)"
    sets = ", ".join(f"({g})" for g in GROUPS)
    scored = "reason is null"
    rows = _fetch(
        conn,
        f"""
        with s as (
            select s.*, h.unit, h.n, s.e // 60 as m0, s.e + z.off as le, (s.e + z.off) // 86400 as ld,
                case when h.unit = 'day' then (s.e + z.off) // 86400
                    + ((s.e + z.off) % 86400 >= {SESSION_CLOSE_S})::int end as cal
            from {source} s join horizons h using (horizon) join tz_off z on z.h = s.e // 3600
        ),
        j as (
            select s.*,
                case when s.unit = 'minute' then mp.close else dp.close end as exit_close,
                case
                    when s.price is null or s.price <= 0 then 'invalid_price'
                    when s.probability is null or s.probability < 0 or s.probability > 1
                        then 'invalid_probability'
                    when s.direction is null or s.direction not in (1, -1) then 'invalid_direction'
                    when s.unit = 'minute' and ml.last_m is null then 'symbol_without_bars'
                    when s.unit = 'day' and dl.last_day is null then 'symbol_without_bars'
                    when s.unit = 'minute' and s.m0 + s.n > ml.last_m then 'horizon_after_last_bar'
                    when s.unit = 'minute' and (mp.m_end is null or mp.m_end <= s.m0)
                        then 'no_bars_in_horizon'
                    when s.unit = 'day' and dp.cal is null and s.cal > dl.last_day
                        then 'horizon_after_last_bar'
                    when s.unit = 'day' and dp.cal is null then 'no_bars_in_horizon'
                    when s.unit = 'day' and dp.close is null then 'horizon_after_last_bar'
                end as reason
            from s
            left join minute_px mp on mp.symbol = s.symbol and mp.m = s.m0 + s.n and s.unit = 'minute'
            left join minute_last ml on ml.symbol = s.symbol
            left join day_px dp on dp.symbol = s.symbol and dp.cal = s.cal and dp.n = s.n and s.unit = 'day'
            left join day_last dl on dl.symbol = s.symbol
            where {_range(params)}
        ),
        k as (
            -- measures are null on unscored rows, so plain sums and counts skip them (no FILTER)
            select reason, symbol, horizon,
                least(floor(probability * 10), 9)::tinyint as prob_bin,
                ((le % 86400) // 3600)::tinyint as hour, ld::integer as day,
                ({spread_b})::tinyint as spread_bucket,
                ({_bucket_sql("volatility", VOL_EDGES)})::tinyint as vol_bucket,
                case when {scored} then direction * (exit_close / price - 1) end as realized,
                case when {scored} then (direction * (exit_close / price - 1) > 0)::integer end as hit,
                case when {scored} then probability end as p,
                case when {scored} then expected_value end as ev,
                case when {scored} then spread_bps end as spread,
                case when {scored} then {slip_sql} end as slip,
                case when {scored} and expected_value > 0 then 1 end as take
            from j
        ),
        -- one hash aggregation over every snapshot into the cells of all bucket keys together
        -- (far fewer rows), then the bucket tables from those cells: every measure is a sum
        cells as (
            select {", ".join(GROUPS)},
                count(*) as rows, count(hit) as n, coalesce(sum(hit), 0) as hits, sum(p) as p_sum,
                sum(ev) as ev_sum, sum(realized) as r_sum, sum(realized * realized) as r2_sum,
                sum((p - hit) ^ 2) as brier_sum, sum(spread) as spread_sum, count(spread) as spread_n,
                sum(slip) as slip_sum, count(take) as taken, coalesce(sum(realized * take), 0) as gross_sum,
                coalesce(sum((realized - 2 * slip / 1e4) * take), 0) as net_sum
            from k group by all
        )
        select {", ".join(f"grouping({g}) as g_{g}" for g in GROUPS)}, {", ".join(GROUPS)},
            {", ".join(f"sum({m})::{t} as {m}" for m, t in _MEASURES)}
        from cells
        group by grouping sets ({sets})
        """,
    )
    total = sum(r["n"] for r in found)
    result = Scores(params, horizons, rows_read=total, duplicates=0)
    _summarize(result, rows)
    result.duplicates = total - result.overall["rows"] if params.drop_duplicates else 0
    if "trades" in have:
        result.slippage = _slippage_table(conn, result, params)
    return result


def _prepare(
    conn: duckdb.DuckDBPyConnection,
    have: set[str],
    params: ScoringParams,
    horizons: list[Horizon],
    e0: int,
    e1: int,
) -> None:
    """Small lookup tables: horizons, per-hour UTC offsets, and the exit price keys."""
    conn.execute("create or replace temp table horizons (horizon varchar, unit varchar, n integer)")
    conn.executemany("insert into horizons values (?, ?, ?)", [(h.label, h.unit, h.n) for h in horizons])
    conn.execute(
        f"create or replace temp table tz_off as select h, epoch_us(timezone(?, to_timestamp(h * 3600)))"
        f" // 1000000 - h * 3600 as off from range({e0 // 3600}, {e1 // 3600 + 1}) t(h)",
        [params.exchange_tz],
    )
    minute_h = [h.n for h in horizons if h.unit == "minute"]
    day_h = sorted({h.n for h in horizons if h.unit == "day"})
    conn.execute(
        "create or replace temp table minute_px (symbol varchar, m bigint, m_end bigint, close double)"
    )
    conn.execute("create or replace temp table day_px (symbol varchar, cal bigint, n integer, close double)")
    if minute_h and "bars_minute" in have:
        cap = max(minute_h)
        # forward-fill each bar over the minutes until the next bar, at most `cap` (the longest horizon)
        conn.execute(
            f"""
            insert into minute_px
            with b as (
                select symbol, epoch_us(ts) // 60000000 + 1 as m_end, any_value(close) as close
                from bars_minute where {_range(params, pad_days=cap // 1440 + 4)} group by all
            ),
            l as (select *, lead(m_end) over (partition by symbol order by m_end) as m_next from b)
            select symbol, unnest(range(m_end, least(coalesce(m_next, m_end + {cap}), m_end + {cap}))),
                m_end, close
            from l
            """
        )
    conn.execute(
        "create or replace temp table minute_last as "
        "select symbol, max(m_end) as last_m from minute_px group by symbol"
    )
    if day_h and "bars_day" in have:
        conn.execute(
            """
            create or replace temp table sessions as
            select symbol, close, sd, row_number() over (partition by symbol order by sd) as idx,
                lag(sd) over (partition by symbol order by sd) as prev
            from (
                select symbol, (cast(timezone(?, ts) as date) - date '1970-01-01')::bigint as sd,
                    any_value(close) as close
                from bars_day group by all
            )
            """,
            [params.exchange_tz],
        )
        # each calendar day maps to the first session on or after it (gaps over 10 days are missing data)
        conn.execute(
            f"""
            insert into day_px
            with cal as (
                select symbol, idx,
                    unnest(range(greatest(coalesce(prev, sd - 1), sd - 10) + 1, sd + 1)) as cal
                from sessions
            )
            select c.symbol, c.cal, h.n, e.close
            from cal c cross join (select unnest({day_h}) as n) h
            left join sessions e on e.symbol = c.symbol and e.idx = c.idx + h.n - 1
            """
        )
        conn.execute(
            "create or replace temp table day_last as "
            "select symbol, max(sd) as last_day from sessions group by symbol"
        )
    else:
        conn.execute("create or replace temp table day_last (symbol varchar, last_day bigint)")


def _slippage(conn: duckdb.DuckDBPyConnection, params: ScoringParams) -> str:
    """Match each fill to the latest snapshot of its symbol at most `trade_window_s` before it;
    returns the CASE arms that put observed slippage on spread buckets with enough fills (the
    rest keep the model). Fills are few: each is expanded to the minutes of its window and
    snapshots find them by an equi-join on (symbol, minute) -- no sort of the snapshots."""
    window_us = int(params.trade_window_s) * 1_000_000
    keys = conn.execute(f"select distinct symbol, date from trades where {_range(params)}").fetchall()
    prune = "true"
    if len(keys) <= 5000:  # literal partition filters let DuckDB skip the other symbol-date folders
        symbols = ", ".join(sorted({f"'{sym.replace(chr(39), chr(39) * 2)}'" for sym, _ in keys}))
        dates = ", ".join(sorted({f"DATE '{d - timedelta(days=k)}'" for _, d in keys for k in (0, 1)}))
        prune = f"symbol in ({symbols or 'null'}) and date in ({dates or 'null'})"
    conn.execute(
        f"""
        create or replace temp table fills as
        with t as (
            select row_number() over () as tid, symbol, ts, epoch_us(ts) as us, side, qty, avg_price
            from trades where {_range(params)}
        ),
        tk as (
            select tid, symbol, us, unnest(range((us - {window_us}) // 60000000, us // 60000000 + 1)) as mk
            from t
        ),
        m as (
            select tk.tid, arg_max(s.price, s.us) as price, arg_max(s.spread_bps, s.us) as spread_bps,
                arg_max(s.volatility, s.us) as volatility
            from (
                select symbol, epoch_us(ts) as us, price, spread_bps, volatility from snap where {prune}
            ) s
            join tk on tk.symbol = s.symbol and tk.mk = s.us // 60000000
            where s.us <= tk.us and s.us >= tk.us - {window_us}
            group by tk.tid
        )
        select t.symbol, t.ts, t.side, t.qty, t.avg_price, m.price, m.spread_bps, m.volatility,
            case when t.side in ('buy', 'buy_to_cover') then 1 else -1 end
                * (t.avg_price / m.price - 1) * 1e4 as slip_bps
        from t join m using (tid)
        where m.price > 0
        """
    )
    spread_b = _bucket_sql("spread_bps", SPREAD_EDGES)
    arms = conn.execute(
        f"select {spread_b} as b, avg(slip_bps) from fills group by b having count(*) >= ?",
        [params.min_trades],
    ).fetchall()
    return " ".join(f"when {int(b)} then {float(v)!r}" for b, v in arms)


def _slippage_table(conn: duckdb.DuckDBPyConnection, result: Scores, params: ScoringParams) -> list[dict]:
    rows = _fetch(
        conn,
        f"""
        select grouping(spread_bucket) as g_s, grouping(vol_bucket) as g_v, grouping(size_bucket) as g_z,
            spread_bucket, vol_bucket, size_bucket,
            count(*) as fills, avg(slip_bps) as observed_bps, stddev_samp(slip_bps) as sd_bps
        from (
            select *, {_bucket_sql("spread_bps", SPREAD_EDGES)} as spread_bucket,
                {_bucket_sql("volatility", VOL_EDGES)} as vol_bucket,
                {_bucket_sql("qty * avg_price", SIZE_EDGES)} as size_bucket
            from fills
        )
        group by grouping sets ((spread_bucket), (vol_bucket), (size_bucket))
        """,
    )
    modelled = {r["spread_bucket"]: r for r in result.groups.get("spread_bucket", [])}
    out = []
    for r in rows:
        kind = "spread" if not r["g_s"] else "volatility" if not r["g_v"] else "size"
        column, edges = {
            "spread": ("spread_bucket", SPREAD_EDGES),
            "volatility": ("vol_bucket", VOL_EDGES),
            "size": ("size_bucket", SIZE_EDGES),
        }[kind]
        bucket = bucket_labels(edges)[r[column]]
        half = params.z * (r["sd_bps"] or 0) / math.sqrt(r["fills"]) if r["fills"] > 1 else math.nan
        row = {
            "kind": kind,
            "bucket": bucket,
            "fills": r["fills"],
            "observed_bps": r["observed_bps"],
            "observed_lo": r["observed_bps"] - half,
            "observed_hi": r["observed_bps"] + half,
        }
        if kind == "spread":
            m = modelled.get(bucket)
            spread = m["spread_mean"] if m and not math.isnan(m["spread_mean"]) else 0.0
            row["modelled_bps"] = params.slippage_bps + spread / 2 if m else math.nan
            row["used"] = "observed" if r["fills"] >= params.min_trades else "model"
        out.append(row)
    return sorted(out, key=lambda r: (r["kind"], str(r["bucket"])))


def _summarize(result: Scores, rows: list[dict]) -> None:
    """Sums per bucket into rates, means and 95 % intervals; bucket numbers into labels."""
    z, notional = result.params.z, result.params.notional
    labels = {"spread_bucket": bucket_labels(SPREAD_EDGES), "vol_bucket": bucket_labels(VOL_EDGES)}
    groups: dict[str, list[dict]] = {}
    for r in rows:
        name = next(g for g in GROUPS if not r[f"g_{g}"])
        if name == "reason":
            groups.setdefault(name, []).append({"reason": r["reason"] or "scored", "rows": r["rows"]})
        if r["n"]:
            key = r[name]
            if name == "day":
                key = date(1970, 1, 1) + timedelta(days=int(key))
            elif name in labels:
                key = labels[name][key]
            groups.setdefault("overall" if name == "reason" else name, []).append(
                {name: key, **_measures(r, z, notional)}
            )
    for name, table in groups.items():
        table.sort(key=lambda r, k=name: (r.get(k) is None, r.get(k)))
    total = sum(r["rows"] for r in groups.get("reason", []))
    overall = groups.get("overall", [{"n": 0, "hits": 0}])[0]
    overall.pop("reason", None)
    groups["overall"] = [{"rows": total, **overall}]
    result.groups = groups
    result.brier = brier_decomposition(groups.get("prob_bin", []), groups["overall"][0])


def _measures(r: dict, z: float, notional: float) -> dict:
    n = r["n"]
    mean = r["r_sum"] / n
    var = max(r["r2_sum"] - n * mean * mean, 0.0) / (n - 1) if n > 1 else math.nan
    half = z * math.sqrt(var / n) if n > 1 else math.nan
    lo, hi = wilson(r["hits"], n, z)
    return {
        "n": n,
        "hits": r["hits"],
        "hit_rate": r["hits"] / n,
        "hit_lo": lo,
        "hit_hi": hi,
        "prob_mean": r["p_sum"] / n,
        "ev_pred": r["ev_sum"] / n,
        "ev_real": mean,
        "ev_lo": mean - half,
        "ev_hi": mean + half,
        "brier": r["brier_sum"] / n,
        "spread_mean": r["spread_sum"] / r["spread_n"] if r["spread_n"] else math.nan,
        "slip_bps": r["slip_sum"] / n,
        "taken": r["taken"],
        "pnl_gross": r["gross_sum"] * notional,
        "pnl_net": r["net_sum"] * notional,
    }


def brier_decomposition(bins: list[dict], overall: dict) -> dict[str, float]:
    """Murphy's decomposition over the probability bins: brier = reliability - resolution +
    uncertainty + within_bin (the part that binning the forecasts leaves over)."""
    n = overall["n"]
    if not n:
        return {}
    base = overall["hits"] / n
    rel = sum(b["n"] * (b["prob_mean"] - b["hit_rate"]) ** 2 for b in bins) / n
    res = sum(b["n"] * (b["hit_rate"] - base) ** 2 for b in bins) / n
    unc = base * (1 - base)
    return {
        "brier": overall["brier"],
        "reliability": rel,
        "resolution": res,
        "uncertainty": unc,
        "within_bin": overall["brier"] - (rel - res + unc),
    }


def _check_horizons(horizons: list[Horizon], have: set[str], where: str) -> None:
    """A horizon whose kind of bars is absent altogether is an input error, not a result (a
    horizon with bars that cover none of its snapshots shows up in the unscored reasons)."""
    for h in horizons:
        view = "bars_minute" if h.unit == "minute" else "bars_day"
        if view not in have:
            raise BacktestInputError(
                f"horizon {h.label!r} needs {h.unit} bars and there are none: run `trader data bars "
                f"--timespan {h.unit}` for these symbols and dates",
                source=f"{where}/bars/timespan={h.unit}",
            )
