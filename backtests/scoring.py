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
from backtests.store import sql_string

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
    """The bucket number of `col` (integer keys keep the aggregation cheap); null goes last. The
    number of edges at or below the value: plain arithmetic, cheaper per row than a CASE."""
    below = " + ".join(f"({col} >= {edge})::integer" for edge in edges)
    return f"coalesce({below}, {len(edges) + 1})"


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


def score(
    conn: duckdb.DuckDBPyConnection,
    have: set[str],
    params: ScoringParams,
    where: str,
    *,
    key_proven_unique: bool = False,
) -> Scores:
    """Score the `features` view against `bars_minute`/`bars_day` (and `trades` when present).
    `have` names the views that exist; `where` is the data root, for messages. With
    `key_proven_unique` (the files prove no snapshot repeats: DataRoot.key_proven_unique) there is
    no duplicate check."""
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
    # reads only the horizon column and the partition keys: which symbols, horizons and dates there are
    found = _fetch(
        conn,
        f"select symbol, horizon, count(*) as n, min(date) as d0, max(date) as d1 from features "
        f"where {_range(params)} group by all",
    )
    if not found or not sum(r["n"] for r in found):
        span = f"between {params.start or 'the first'} and {params.end or 'the last'} date"
        raise BacktestInputError(f"no snapshots {span}: widen --start/--end", source=f"{where}/features")
    labels = sorted({r["horizon"] for r in found})
    horizons = [parse_horizon(h) for h in labels]
    _check_horizons(horizons, have, where)
    keys = _Keys(symbols=sorted({r["symbol"] for r in found}), horizons=horizons)
    _prepare(conn, have, params, keys, min(r["d0"] for r in found), max(r["d1"] for r in found))
    dedup = params.drop_duplicates and not key_proven_unique and _has_duplicates(conn, params)
    conn.execute(f"create or replace temp table cells as {_cells_sql(params, keys, dedup)}")
    arms = _slippage(conn, params) if "trades" in have else ""
    rows = _fetch(conn, _tables_sql(params, keys, arms))
    for r in rows:
        r["reason"] = REASONS[r["reason"]] if r["reason"] is not None else None
        r["symbol"] = keys.symbols[r["symbol"]] if r["symbol"] is not None else None
        r["horizon"] = labels[r["horizon"]] if r["horizon"] is not None else None
    total = sum(r["n"] for r in found)
    result = Scores(params, horizons, rows_read=total, duplicates=0)
    _summarize(result, rows)
    result.duplicates = total - result.overall["rows"] if params.drop_duplicates else 0
    if "trades" in have:
        result.slippage = _slippage_table(conn, result, params)
    return result


# Unscored rows by reason; 0 (None) is scored. Codes, not strings, keep the aggregation keys integers.
REASONS = (
    None,
    "invalid_price",
    "invalid_probability",
    "invalid_direction",
    "symbol_without_bars",
    "horizon_after_last_bar",
    "no_bars_in_horizon",
)


@dataclass(frozen=True)
class _Keys:
    """Symbols and horizons get small integer ids; every bucket key of a snapshot is packed into
    one BIGINT (bit fields below), so the aggregation hashes one integer instead of eight columns."""

    symbols: list[str]
    horizons: list[Horizon]

    @property
    def day_horizons(self) -> list[int]:
        return sorted({h.n for h in self.horizons if h.unit == "day"})

    @property
    def hid_bits(self) -> int:
        return max(1, (len(self.horizons) - 1).bit_length())


# cell key: reason (3 bits) | prob_bin (4) | spread_bucket (3) | vol_bucket (3) | hour (5) | hid | sid
_FIELDS = (
    ("reason", 0, 7),
    ("prob_bin", 3, 15),
    ("spread_bucket", 7, 7),
    ("vol_bucket", 10, 7),
    ("hour", 13, 31),
)
_HID_SHIFT = 18
SYMBOL_SHIFT = 40  # exit price keys: symbol id above, the minute or session key below (x2 + is_day)


def _has_duplicates(conn: duckdb.DuckDBPyConnection, params: ScoringParams) -> bool:
    """Whether some (symbol, ts, horizon) occurs twice. Counting distinct 64-bit hashes of the key
    is half the cost of deduplicating every row (an integer hash table, no other columns carried);
    equal keys hash equally, so as many distinct hashes as rows proves there are no duplicates, and
    anything less (duplicates, or a hash collision) takes the exact DISTINCT ON path."""
    same = conn.execute(
        f"select count(*) - count(distinct hash(symbol, ts, horizon)) from snap where {_range(params)}"
    ).fetchone()
    return bool(same and same[0])


def _cells_sql(params: ScoringParams, keys: _Keys, dedup: bool) -> str:
    """ONE pass over the snapshots: each is joined to its exit price (one equi-join on a packed
    key), given a reason code, and summed into two small grouping sets: all bucket keys but the day
    (the other bucket tables roll up from these cells) and (day, spread bucket). Slippage is not
    applied here: it depends only on the spread bucket, so it is applied per cell afterwards."""
    columns = "symbol, ts, horizon, e, direction, probability, expected_value, price, spread_bps, volatility"
    source = f"(select {columns} from snap where {_range(params)})"
    if dedup:  # only the columns used below ride along through the hash table
        source = f"(select distinct on (symbol, ts, horizon) {columns} from snap where {_range(params)})"
    nd = max(len(keys.day_horizons), 1)
    sid_shift = _HID_SHIFT + keys.hid_bits
    scored = "reason = 0"
    fallback = f"epoch_us(timezone({sql_string(params.exchange_tz)}, s.ts)) // 1000000 - s.e"
    return f"""
        with s as (
            select s.price, s.probability, s.direction, s.expected_value, s.spread_bps, s.volatility,
                k.sid, k.hid, k.is_day, k.n, k.last, s.e // 60 as m0,
                -- the per-hour offset table covers the partitions' dates; a ts outside them (a file in the
                -- wrong date folder) still gets its offset, computed for that row alone
                s.e + coalesce(z.off, {fallback}) as le
            from {source} s join keys k using (symbol, horizon) left join tz_off z on z.h = s.e // 3600
        ),
        c as (
            -- d = 1 for session (day) horizons, 0 for minute ones: the exit key and the checks below
            -- are arithmetic and AND chains rather than CASEs, which DuckDB evaluates branch by branch
            select *, le // 86400 as ld, le // 86400 + (le % 86400 >= {SESSION_CLOSE_S})::int as cal,
                is_day::int as d
            from s
        ),
        x as (
            select c.*, (c.sid::bigint << {SYMBOL_SHIFT})
                | ((d * (c.cal * {nd} + c.n) + (1 - d) * (c.m0 + c.n)) << 1) | d as xk
            from c
        ),
        j as (
            select x.*, px.close as exit_close,
                case
                    when x.price > 0 and x.probability >= 0 and x.probability <= 1 and x.direction in (1, -1)
                        and x.last is not null and (
                            (not x.is_day and x.m0 + x.n <= x.last and px.m_end > x.m0)
                            or (x.is_day and px.close is not null)
                        ) then 0
                    when x.price is null or x.price <= 0 then 1
                    when x.probability is null or x.probability < 0 or x.probability > 1 then 2
                    when x.direction is null or x.direction not in (1, -1) then 3
                    when x.last is null then 4
                    when not x.is_day and x.m0 + x.n > x.last then 5
                    when not x.is_day then 6
                    when px.xk is null and x.cal > x.last then 5
                    when px.xk is null then 6
                    else 5
                end as reason
            from x left join px on px.xk = x.xk
        ),
        k as (
            -- the bucket keys of unscored rows are their reason alone (only the reason table counts
            -- them); their measures are summed but never read, which saves a CASE per measure
            select case when {scored} then
                    (least(floor(probability * 10), 9)::bigint << 3)
                    | (({_bucket_sql("spread_bps", SPREAD_EDGES)})::bigint << 7)
                    | (({_bucket_sql("volatility", VOL_EDGES)})::bigint << 10)
                    | (((le % 86400) // 3600) << 13) | (hid::bigint << {_HID_SHIFT})
                    | (sid::bigint << {sid_shift})
                else reason end as k1,
                case when {scored} then (ld << 3) | {_bucket_sql("spread_bps", SPREAD_EDGES)} end as kday,
                direction * (exit_close / price - 1) as realized, probability as p, expected_value as ev,
                spread_bps as spread, case when expected_value > 0 then 1 end as take
            from j
        )
        select grouping(k1) as g, coalesce(k1, kday) as key,
            count(*) as rows, count(realized) as n, count_if(realized > 0) as hits, sum(p) as p_sum,
            sum(ev) as ev_sum, sum(realized) as r_sum, sum(realized * realized) as r2_sum,
            sum((p - (realized > 0)::integer) ^ 2) as brier_sum, sum(spread) as spread_sum,
            count(spread) as spread_n, count(take) as taken, coalesce(sum(realized * take), 0) as gross_sum,
            coalesce(sum(spread * take), 0) as take_spread_sum
        from k
        group by grouping sets ((k1), (kday))
    """


def _tables_sql(params: ScoringParams, keys: _Keys, slip_arms: str) -> str:
    """Every bucket table from the cells. Slippage per cell: the observed mean of its spread bucket
    when that bucket has enough fills (`slip_arms`), else the model (bps + half the spread)."""
    sid_shift = _HID_SHIFT + keys.hid_bits
    fields = ", ".join(f"(key >> {shift}) & {mask} as {name}" for name, shift, mask in _FIELDS)
    observed = f"case spread_bucket {slip_arms} end" if slip_arms else "null::double"
    bps = float(params.slippage_bps)
    slip = f"coalesce(n * obs, n * {bps} + coalesce(spread_sum, 0) / 2) as slip_sum"
    net = f"gross_sum - 2e-4 * coalesce(obs * taken, taken * {bps} + take_spread_sum / 2) as net_sum"
    measures = ", ".join(f"sum({m})::{t} as {m}" for m, t in _MEASURES)
    dims = [g for g in GROUPS if g != "day"]
    return f"""
        with c as (
            select {fields}, (key >> {_HID_SHIFT}) & {(1 << keys.hid_bits) - 1} as horizon,
                key >> {sid_shift} as symbol, * exclude (g, key)
            from cells where g = 0 and key & 7 = 0
            union all by name
            select key as reason, rows, 0 as n from cells where g = 0 and key & 7 != 0
        ),
        d as (select key & 7 as spread_bucket, key >> 3 as day, * exclude (g, key) from cells where g = 1),
        cs as (select *, {slip}, {net} from (select *, {observed} as obs from c)),
        ds as (select *, {slip}, {net} from (select *, {observed} as obs from d where day is not null))
        select {", ".join(f"grouping({g}) as g_{g}" for g in dims)}, 1 as g_day, {", ".join(dims)},
            null::bigint as day, {measures}
        from cs group by grouping sets ({", ".join(f"({g})" for g in dims)})
        union all by name
        select {", ".join(f"1 as g_{g}" for g in dims)}, 0 as g_day, day, {measures}
        from ds group by day
    """


def _prepare(
    conn: duckdb.DuckDBPyConnection,
    have: set[str],
    params: ScoringParams,
    keys: _Keys,
    d0: date,
    d1: date,
) -> None:
    """Small lookup tables: symbol and horizon ids with each symbol's last bar (`keys`), per-hour
    UTC offsets over the snapshot dates (`tz_off`), and the exit prices by packed key (`px`)."""
    conn.execute("create or replace temp table syms (symbol varchar, sid integer)")
    conn.executemany("insert into syms values (?, ?)", [(s, i) for i, s in enumerate(keys.symbols)])
    day_h = keys.day_horizons
    conn.execute("create or replace temp table hz (horizon varchar, hid integer, is_day boolean, n integer)")
    conn.executemany(
        "insert into hz values (?, ?, ?, ?)",
        [
            (h.label, i, h.unit == "day", day_h.index(h.n) if h.unit == "day" else h.n)
            for i, h in enumerate(keys.horizons)
        ],
    )
    epoch = date(1970, 1, 1)
    h0, h1 = ((d0 - epoch).days - 2) * 24, ((d1 - epoch).days + 3) * 24
    conn.execute(
        f"create or replace temp table tz_off as select h, epoch_us(timezone(?, to_timestamp(h * 3600)))"
        f" // 1000000 - h * 3600 as off from range({h0}, {h1}) t(h)",
        [params.exchange_tz],
    )
    conn.execute("create or replace temp table px (xk bigint, m_end bigint, close double)")
    conn.execute("create or replace temp table last_bar (sid integer, last_m bigint, last_day bigint)")
    minute_h = [h.n for h in keys.horizons if h.unit == "minute"]
    if minute_h and "bars_minute" in have:
        cap = max(minute_h)
        # forward-fill each bar over the minutes until the next bar, at most `cap` (the longest horizon)
        conn.execute(
            f"""
            create or replace temp table minute_bars as
            select sid, m_end, close, lead(m_end) over (partition by sid order by m_end) as m_next
            from (
                select sid, epoch_us(ts) // 60000000 + 1 as m_end, any_value(close) as close
                from bars_minute join syms using (symbol)
                where {_range(params, pad_days=cap // 1440 + 4)} group by all
            )
            """
        )
        conn.execute(
            f"""
            insert into px
            select (sid::bigint << {SYMBOL_SHIFT}) | (m << 1), m_end, close from (
                select sid, m_end, close,
                    unnest(range(m_end, least(coalesce(m_next, m_end + {cap}), m_end + {cap}))) as m
                from minute_bars
            )
            """
        )
        conn.execute("insert into last_bar select sid, max(m_end), null from minute_bars group by sid")
    if day_h and "bars_day" in have:
        conn.execute(
            """
            create or replace temp table sessions as
            select sid, close, sd, row_number() over (partition by sid order by sd) as idx,
                lag(sd) over (partition by sid order by sd) as prev
            from (
                select sid, (cast(timezone(?, ts) as date) - date '1970-01-01')::bigint as sd,
                    any_value(close) as close
                from bars_day join syms using (symbol) group by all
            )
            """,
            [params.exchange_tz],
        )
        # each calendar day maps to the first session on or after it (gaps over 10 days are missing data)
        conn.execute(
            f"""
            insert into px
            with cal as (
                select sid, idx, unnest(range(greatest(coalesce(prev, sd - 1), sd - 10) + 1, sd + 1)) as cal
                from sessions
            )
            select (c.sid::bigint << {SYMBOL_SHIFT}) | ((c.cal * {len(day_h)} + h.i) << 1) | 1, null, e.close
            from cal c cross join (select unnest(range({len(day_h)})) as i, unnest({day_h}) as n) h
            left join sessions e on e.sid = c.sid and e.idx = c.idx + h.n - 1
            """
        )
        conn.execute("insert into last_bar select sid, null, max(sd) from sessions group by sid")
    conn.execute(
        """
        create or replace temp table keys as
        select symbol, horizon, sid, hid, is_day, n, case when is_day then b.d else b.m end as last
        from syms cross join hz
        left join (select sid, max(last_m) as m, max(last_day) as d from last_bar group by sid) b using (sid)
        """
    )


def _slippage(conn: duckdb.DuckDBPyConnection, params: ScoringParams) -> str:
    """Match each fill to the latest snapshot of its symbol at most `trade_window_s` before it;
    returns the CASE arms that put observed slippage on spread buckets with enough fills (the
    rest keep the model). Fills are few: each is expanded to the minutes of its window and
    snapshots find them by an equi-join on (symbol, minute) -- no sort of the snapshots."""
    window_us = int(params.trade_window_s) * 1_000_000
    # the fills are read once (they are few); their symbol-dates prune the snapshot scan
    conn.execute(
        f"create or replace temp table fill_rows as select row_number() over () as tid, symbol, date, ts, "
        f"epoch_us(ts) as us, side, qty, avg_price from trades where {_range(params)}"
    )
    keys = conn.execute("select distinct symbol, date from fill_rows").fetchall()
    symbols = sorted({sym for sym, _ in keys})
    # a fill matches snapshots of its own exchange date or the day before (the window crosses midnight)
    dates = sorted({d - timedelta(days=k) for _, d in keys for k in (0, 1)})
    prune = _partition_filter(symbols, dates)
    conn.execute(
        f"""
        create or replace temp table fills as
        with tk as (
            select tid, symbol, us, unnest(range((us - {window_us}) // 60000000, us // 60000000 + 1)) as mk
            from fill_rows
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
        from fill_rows t join m using (tid)
        where m.price > 0
        """
    )
    spread_b = _bucket_sql("spread_bps", SPREAD_EDGES)
    arms = conn.execute(
        f"select {spread_b} as b, avg(slip_bps) from fills group by b having count(*) >= ?",
        [params.min_trades],
    ).fetchall()
    return " ".join(f"when {int(b)} then {float(v)!r}" for b, v in arms)


# Literal partition filters let DuckDB skip whole symbol-date folders, but it checks every file's
# folder against every literal while planning: a list longer than this costs more than it skips
_PRUNE_LIST_MAX = 64


def _partition_filter(symbols: list[str], dates: list[date]) -> str:
    """Restricts a scan to these symbols and dates: exactly when the lists are short, else to the
    span of the dates (cheap to check, and still skips what lies outside)."""
    if not dates:
        return "false"
    conds = [f"date between DATE '{dates[0]}' and DATE '{dates[-1]}'"]
    if len(dates) <= _PRUNE_LIST_MAX:
        listed = ", ".join(f"DATE '{d}'" for d in dates)
        conds.append(f"date in ({listed})")
    if len(symbols) <= _PRUNE_LIST_MAX:
        conds.append(f"symbol in ({', '.join(map(sql_string, symbols))})")
    return " and ".join(conds)


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
