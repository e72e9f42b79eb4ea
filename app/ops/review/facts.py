"""The deterministic part of a review: numbers computed in SQL from trades, features and logs.

The model only ever sees (and summarizes) these facts; the report prints them verbatim. Broker
outcomes come from the `orders` table (app/trading/orders.py). Which `logs` rows count as a
guardrail rejection, a provider failure or an alert is a convention with the service, written
down in docs/review.md ("What the review reads").
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import asyncpg

from app.api.schemas_tables import Level
from app.ops.review.periods import Period

TOP_N = 3
# Statuses as app/providers/journal.py records them (the trader_provider_requests metric's `status`
# label): an HTTP status, or timeout/error/network/breaker_open. A 429 is counted on its own.
PROVIDER_FAILURE = (
    "((payload->>'status' ~ '^[45][0-9][0-9]$' and payload->>'status' <> '429')"
    " or payload->>'status' in ('timeout', 'error', 'network', 'breaker_open'))"
)


@dataclass(frozen=True)
class TradeLine:
    ts: datetime
    symbol: str
    side: str
    qty: Decimal
    pnl: Decimal


@dataclass(frozen=True)
class WeeklyFacts:
    period: Period
    trades: int
    closed: int  # trades with a realized P&L
    wins: int
    losses: int
    pnl: Decimal
    by_symbol: list[tuple[str, int, Decimal]]
    winners: list[TradeLine]
    losers: list[TradeLine]
    features: int
    features_by_horizon: list[tuple[str, int, int]]  # horizon, rows, symbols
    rejections: list[tuple[str, int]]  # rule, count
    orders: list[tuple[str, int]]  # status in the orders table (placed, rejected, unknown, pending), count
    providers: list[tuple[str, int, int, int]]  # provider, logged calls, failures, rate-limited
    alerts: list[tuple[str, str, int]]  # alert, outcome, count
    problems: list[tuple[str, int, int]]  # source, errors, warnings

    @property
    def win_rate(self) -> float | None:
        return self.wins / self.closed if self.closed else None


@dataclass(frozen=True)
class LogGroup:
    source: str
    level: str
    count: int
    first_seen: datetime
    last_seen: datetime
    top_message: str
    top_message_count: int


@dataclass(frozen=True)
class LogFacts:
    period: Period
    min_level: str
    groups: list[LogGroup]
    total_rows: int


LEVELS = tuple(level.value for level in Level)  # declared from least to most severe


async def weekly_facts(conn: asyncpg.Connection, period: Period) -> WeeklyFacts:
    window = (period.start, period.end)
    totals = await conn.fetchrow(
        "select count(*) as trades, count(pnl) as closed, count(*) filter (where pnl > 0) as wins,"
        " count(*) filter (where pnl < 0) as losses, coalesce(sum(pnl), 0) as pnl"
        " from trades where ts >= $1 and ts < $2",
        *window,
    )
    by_symbol = await conn.fetch(
        "select symbol, count(*) as n, coalesce(sum(pnl), 0) as pnl from trades"
        " where ts >= $1 and ts < $2 group by symbol order by pnl desc, symbol",
        *window,
    )
    trade_cols = "select ts, symbol, side, qty, pnl from trades where ts >= $1 and ts < $2"
    winners = await conn.fetch(f"{trade_cols} and pnl > 0 order by pnl desc, ts limit {TOP_N}", *window)
    losers = await conn.fetch(f"{trade_cols} and pnl < 0 order by pnl asc, ts limit {TOP_N}", *window)
    features = await conn.fetch(
        "select horizon, count(*) as n, count(distinct symbol) as symbols from features"
        " where ts >= $1 and ts < $2 group by horizon order by horizon",
        *window,
    )
    rejections = await conn.fetch(
        "select coalesce(payload->>'rule', 'unknown') as rule, count(*) as n from logs"
        " where ts >= $1 and ts < $2 and source = 'orders' and payload->>'outcome' = 'rejected'"
        " group by 1 order by n desc, rule",
        *window,
    )
    orders = await conn.fetch(
        "select status, count(*) as n from orders where created_at >= $1 and created_at < $2"
        " group by status order by status",
        *window,
    )
    providers = await conn.fetch(
        f"select payload->>'provider' as provider, count(*) as n,"
        f" count(*) filter (where {PROVIDER_FAILURE}) as failures,"
        " count(*) filter (where payload->>'status' = '429') as limited from logs"
        " where ts >= $1 and ts < $2 and payload ? 'provider' and payload ? 'status'"
        " group by 1 order by 1",
        *window,
    )
    alerts = await conn.fetch(
        "select coalesce(payload->>'alert', message) as alert,"
        " coalesce(payload->>'outcome', 'sent') as outcome,"
        " count(*) as n from logs where ts >= $1 and ts < $2 and source = 'alerts'"
        " group by 1, 2 order by n desc, 1, 2",
        *window,
    )
    problems = await conn.fetch(
        "select source, count(*) filter (where level in ('error', 'critical')) as errors,"
        " count(*) filter (where level = 'warning') as warnings from logs"
        " where ts >= $1 and ts < $2 and level in ('warning', 'error', 'critical')"
        " group by source order by errors desc, warnings desc, source",
        *window,
    )
    return WeeklyFacts(
        period=period,
        trades=totals["trades"],
        closed=totals["closed"],
        wins=totals["wins"],
        losses=totals["losses"],
        pnl=totals["pnl"],
        by_symbol=[(r["symbol"], r["n"], r["pnl"]) for r in by_symbol],
        winners=[TradeLine(**dict(r)) for r in winners],
        losers=[TradeLine(**dict(r)) for r in losers],
        features=sum(r["n"] for r in features),
        features_by_horizon=[(r["horizon"], r["n"], r["symbols"]) for r in features],
        rejections=[(r["rule"], r["n"]) for r in rejections],
        orders=[(r["status"], r["n"]) for r in orders],
        providers=[(r["provider"], r["n"], r["failures"], r["limited"]) for r in providers],
        alerts=[(r["alert"], r["outcome"], r["n"]) for r in alerts],
        problems=[(r["source"], r["errors"], r["warnings"]) for r in problems],
    )


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise ValueError(f"--min-level must be one of {', '.join(LEVELS)}; got {level!r}")
    return level


async def log_facts(conn: asyncpg.Connection, period: Period, min_level: str = "error") -> LogFacts:
    """Log rows at `min_level` or above, grouped by source and level, with first/last seen and
    the most frequent message of each group."""
    levels = list(LEVELS[LEVELS.index(check_level(min_level)) :])
    rows = await conn.fetch(
        "with hits as (select source, level, message, ts from logs"
        "  where ts >= $1 and ts < $2 and level = any($3::text[])),"
        " groups as (select source, level, count(*) as n, min(ts) as first_seen, max(ts) as last_seen"
        "  from hits group by source, level),"
        " messages as (select distinct on (source, level) source, level, message, count(*) as n"
        "  from hits group by source, level, message order by source, level, count(*) desc, message)"
        " select g.*, m.message, m.n as message_n from groups g join messages m using (source, level)"
        " order by g.n desc, g.source, g.level",
        period.start,
        period.end,
        levels,
    )
    groups = [
        LogGroup(
            r["source"], r["level"], r["n"], r["first_seen"], r["last_seen"], r["message"], r["message_n"]
        )
        for r in rows
    ]
    return LogFacts(period, min_level, groups, sum(g.count for g in groups))
