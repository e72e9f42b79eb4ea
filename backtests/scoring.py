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


def _bucket_sql(col: str, edges: tuple[float, ...], fmt: str = "{}") -> str:
    parts = [f"when {col} is null then 'unknown'"]
    low = None
    for i, edge in enumerate(edges):
        label = f"<{fmt.format(edge)}" if low is None else f"{fmt.format(low)}-{fmt.format(edge)}"
        parts.append(f"when {col} < {edge} then '{i}: {label}'")
        low = edge
    parts.append(f"else '{len(edges)}: >={fmt.format(low)}'")
    return "case " + " ".join(parts) + " end"


def _fetch(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cur = conn.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _range(params: ScoringParams, pad_days: int = 0) -> str:
    conds = []
    if params.start:
        conds.append(f"date >= DATE '{params.start - timedelta(days=1)}'")
    if params.end:
        conds.append(f"date <= DATE '{params.end + timedelta(days=pad_days + 1)}'")
    return " and ".join(conds) or "true"


def _snapshot_filter(params: ScoringParams) -> str:
    """Exact range on the exchange date (`ld`), after partition pruning on the stored date."""
    conds = [_range(params)]
    if params.start:
        conds.append(f"ld >= {(params.start - date(1970, 1, 1)).days}")
    if params.end:
        conds.append(f"ld <= {(params.end - date(1970, 1, 1)).days}")
    return " and ".join(conds)


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
    _prepare(conn, have, params, horizons, min(r["e0"] for r in found), max(r["e1"] for r in found), where)
    slip_case = _slippage(conn, have, params) if "trades" in have else None

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
            where {_snapshot_filter(params)}
        ),
        k as (
            select *, direction * (exit_close / price - 1) as realized,
                (direction * (exit_close / price - 1) > 0)::int as hit,
                least(floor(probability * 10), 9)::int as prob_bin,
                ((le % 86400) // 3600)::int as hour, ld as day,
                {spread_b} as spread_bucket,
                {_bucket_sql("volatility", VOL_EDGES)} as vol_bucket,
                {slip_sql} as slip_bps
            from j
        )
        select {", ".join(f"grouping({g}) as g_{g}" for g in GROUPS)}, {", ".join(GROUPS)},
            count(*) as rows,
            count(*) filter ({scored}) as n,
            coalesce(sum(hit) filter ({scored}), 0) as hits,
            avg(probability) filter ({scored}) as prob_mean,
            avg(expected_value) filter ({scored}) as ev_pred,
            avg(realized) filter ({scored}) as ev_real,
            stddev_samp(realized) filter ({scored}) as ev_sd,
            sum((probability - hit) ^ 2) filter ({scored}) as brier_sum,
            avg(spread_bps) filter ({scored}) as spread_mean,
            avg(slip_bps) filter ({scored}) as slip_bps,
            count(*) filter ({scored} and expected_value > 0) as taken,
            coalesce(sum(realized) filter ({scored} and expected_value > 0), 0)
                * {params.notional} as pnl_gross,
            coalesce(sum(realized - 2 * slip_bps / 1e4) filter ({scored} and expected_value > 0), 0)
                * {params.notional} as pnl_net
        from k
        group by grouping sets ((), {sets})
        """,
    )
    total = sum(r["n"] for r in found)
    result = Scores(params, horizons, rows_read=total, duplicates=0)
    _summarize(result, rows)
    result.duplicates = total - result.overall["rows"] if params.drop_duplicates else 0
    if slip_case is not None or "trades" in have:
        result.slippage = _slippage_table(conn, result, params)
    return result


def _prepare(
    conn: duckdb.DuckDBPyConnection,
    have: set[str],
    params: ScoringParams,
    horizons: list[Horizon],
    e0: int,
    e1: int,
    where: str,
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


def _slippage(conn: duckdb.DuckDBPyConnection, have: set[str], params: ScoringParams) -> str:
    """Match fills to the snapshot just before them; returns the CASE arms that put observed
    slippage on spread buckets with enough fills (the rest keep the model)."""
    conn.execute(
        f"""
        create or replace temp table fills as
        with t as (select symbol, ts, side, qty, avg_price, date from trades where {_range(params)}),
        s as (
            select snap.symbol, snap.ts, snap.price, snap.spread_bps, snap.volatility from snap
            semi join (select distinct symbol, date from t) d on d.symbol = snap.symbol and d.date = snap.date
        )
        select t.symbol, t.ts, t.side, t.qty, t.avg_price, s.price, s.spread_bps, s.volatility,
            case when t.side in ('buy', 'buy_to_cover') then 1 else -1 end
                * (t.avg_price / s.price - 1) * 1e4 as slip_bps
        from t asof left join s on t.symbol = s.symbol and t.ts >= s.ts
        where s.ts is not null and t.ts - s.ts <= interval {int(params.trade_window_s)} second and s.price > 0
        """
    )
    spread_b = _bucket_sql("spread_bps", SPREAD_EDGES)
    arms = conn.execute(
        f"select {spread_b} as b, avg(slip_bps) from fills group by b having count(*) >= ?",
        [params.min_trades],
    ).fetchall()
    return " ".join(f"when '{b}' then {float(v)!r}" for b, v in arms)


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
        bucket = r[{"spread": "spread_bucket", "volatility": "vol_bucket", "size": "size_bucket"}[kind]]
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
            row["modelled_bps"] = params.slippage_bps + (m["spread_mean"] or 0) / 2 if m else math.nan
            row["used"] = "observed" if r["fills"] >= params.min_trades else "model"
        out.append(row)
    return sorted(out, key=lambda r: (r["kind"], str(r["bucket"])))


def _summarize(result: Scores, rows: list[dict]) -> None:
    z = result.params.z
    groups: dict[str, list[dict]] = {"overall": []}
    for r in rows:
        keys = [g for g in GROUPS if not r[f"g_{g}"]]
        name = keys[0] if keys else "overall"
        row = {name: r[name]} if keys else {}
        if name == "reason":
            row = {"reason": r["reason"] or "scored", "rows": r["rows"]}
            groups.setdefault(name, []).append(row)
            continue
        if name == "day":
            row = {"day": date(1970, 1, 1) + timedelta(days=int(r["day"]))}
        if name == "overall":
            row["rows"] = r["rows"]
        if not r["n"] and name != "overall":
            continue
        lo, hi = wilson(r["hits"], r["n"], z)
        half = z * (r["ev_sd"] or 0) / math.sqrt(r["n"]) if r["n"] > 1 else math.nan
        row |= {
            "n": r["n"],
            "hits": r["hits"],
            "hit_rate": r["hits"] / r["n"] if r["n"] else math.nan,
            "hit_lo": lo,
            "hit_hi": hi,
            "prob_mean": r["prob_mean"],
            "ev_pred": r["ev_pred"],
            "ev_real": r["ev_real"],
            "ev_lo": (r["ev_real"] or 0) - half,
            "ev_hi": (r["ev_real"] or 0) + half,
            "brier": r["brier_sum"] / r["n"] if r["n"] else math.nan,
            "spread_mean": r["spread_mean"],
            "slip_bps": r["slip_bps"],
            "taken": r["taken"],
            "pnl_gross": r["pnl_gross"],
            "pnl_net": r["pnl_net"],
        }
        groups.setdefault(name, []).append(row)
    for name, table in groups.items():
        key = "reason" if name == "reason" else name
        if name != "overall":
            table.sort(key=lambda r, k=key: (r[k] is None, r[k]))
    result.groups = groups
    result.brier = brier_decomposition(groups.get("prob_bin", []), groups["overall"][0])


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
