"""Rows for the review tests, written the way the service writes them (conventions in docs/review.md)."""

import json
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg

from app.ops.review.periods import Period, iso_week

WEEK = iso_week("2026-W46")  # Monday 2026-11-09 to Monday 2026-11-16 UTC


def at(period: Period, days: float = 0, hours: float = 0) -> datetime:
    return period.start + timedelta(days=days, hours=hours)


async def add_trade(
    conn: asyncpg.Connection, ts: datetime, symbol: str, pnl: str | None, side: str = "sell", qty: str = "10"
) -> None:
    await conn.execute(
        "insert into trades (ts, symbol, side, type, qty, avg_price, pnl)"
        " values ($1, $2, $3, 'market', $4, 100, $5)",
        ts,
        symbol,
        side,
        Decimal(qty),
        None if pnl is None else Decimal(pnl),
    )


async def add_log(
    conn: asyncpg.Connection, ts: datetime, level: str, source: str, message: str, **payload: object
) -> None:
    await conn.execute(
        "insert into logs (ts, level, source, message, payload) values ($1, $2, $3, $4, $5::jsonb)",
        ts,
        level,
        source,
        message,
        json.dumps(payload),
    )


async def add_feature(conn: asyncpg.Connection, ts: datetime, symbol: str, horizon: str) -> None:
    await conn.execute(
        "insert into features (ts, symbol, horizon, payload) values ($1, $2, $3, '{}')", ts, symbol, horizon
    )


async def add_order(conn: asyncpg.Connection, created_at: datetime, coid: str, status: str) -> None:
    await conn.execute(
        "insert into orders (client_order_id, created_at, symbol, side, type, duration, qty,"
        " request_hash, status) values ($1, $2, 'AAPL', 'buy', 'market', 'day', 1, 'h', $3)",
        coid,
        created_at,
        status,
    )


async def seed_week(conn: asyncpg.Connection, period: Period = WEEK) -> None:
    """A week with 5 trades (3 wins, 1 loss, 1 still open), features, rejections, provider trouble
    and alerts, plus rows just outside the week that must not count."""
    for day, symbol, pnl in [
        (0, "AAPL", "120.50"),
        (1, "AAPL", "-80"),
        (2, "MSFT", "40"),
        (3, "NVDA", "300"),
    ]:
        await add_trade(conn, at(period, day, 15), symbol, pnl)
    await add_trade(conn, at(period, 4, 15), "TSLA", None, side="buy")
    await add_trade(conn, at(period, -0.001), "AAPL", "9999")  # the Sunday before
    await add_trade(conn, period.end, "AAPL", "-9999")  # the next Monday, 00:00
    for symbol in ("AAPL", "MSFT"):
        await add_feature(conn, at(period, 1), symbol, "1d")
    await add_feature(conn, at(period, 2), "AAPL", "1h")
    for _ in range(3):
        await add_log(
            conn, at(period, 2), "warning", "orders", "order rejected", outcome="rejected", rule="max_qty"
        )
    await add_log(
        conn, at(period, 2), "warning", "orders", "order rejected", outcome="rejected", rule="allowlist"
    )
    await add_log(conn, at(period, 2), "info", "orders", "order placed", outcome="placed")
    for status in ("429", "429", "503", "timeout", "401", "breaker_open"):
        level = "warning" if status == "429" else "error"
        await add_log(
            conn,
            at(period, 3),
            level,
            "providers",
            f"polygon call failed: {status}",
            provider="polygon",
            status=status,
        )
    await add_log(conn, at(period, 3), "info", "providers", "tradier call", provider="tradier", status="200")
    await add_log(conn, at(period, 3), "info", "alerts", "alert", alert="ProviderErrors", outcome="sent")
    await add_log(
        conn, at(period, 3), "info", "alerts", "alert", alert="ProviderErrors", outcome="deduplicated"
    )
    await add_log(conn, at(period, 8), "error", "providers", "outside", provider="polygon", status="500")
    for n, status in enumerate(["placed", "placed", "rejected", "unknown"]):
        await add_order(conn, at(period, 2, n), f"o{n}", status)
    await add_order(conn, at(period, 9), "late", "rejected")
