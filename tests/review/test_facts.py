"""Facts come from SQL over the real schema: what counts, and what stays outside the week."""

from datetime import timedelta
from decimal import Decimal

import asyncpg

from app.ops.review.facts import log_facts, weekly_facts
from app.ops.review.periods import since
from app.ops.review.report import weekly_facts_md
from tests.review.factories import WEEK, add_log, at, seed_week


async def test_weekly_facts_count_only_the_week(conn: asyncpg.Connection) -> None:
    await seed_week(conn)
    f = await weekly_facts(conn, WEEK)
    assert (f.trades, f.closed, f.wins, f.losses) == (5, 4, 3, 1), f"trade counts for {WEEK.label}: {f}"
    assert f.pnl == Decimal("380.50"), f"realized P&L must exclude the rows outside the week, got {f.pnl}"
    assert f.win_rate == 0.75, f"win rate is wins / trades with P&L, got {f.win_rate}"
    assert [w.symbol for w in f.winners] == ["NVDA", "AAPL", "MSFT"], "winners by P&L, largest first"
    assert [(w.symbol, w.pnl) for w in f.losers] == [("AAPL", Decimal("-80"))], "only losing trades"
    assert f.by_symbol[0] == ("NVDA", 1, Decimal("300")), f"by-symbol P&L, best first: {f.by_symbol}"


async def test_weekly_facts_read_the_log_conventions(conn: asyncpg.Connection) -> None:
    await seed_week(conn)
    f = await weekly_facts(conn, WEEK)
    assert f.rejections == [("max_qty", 3), ("allowlist", 1)], f"rejections by rule: {f.rejections}"
    assert f.providers == [("polygon", 6, 4, 2), ("tradier", 1, 0, 0)], (
        "provider rows (calls, failures = 4xx/5xx but 429, timeout, breaker_open; 429s), "
        f"the 500 after the week excluded: {f.providers}"
    )
    assert f.orders == [("placed", 2), ("rejected", 1), ("unknown", 1)], (
        f"orders by status in the week: {f.orders}"
    )
    assert f.alerts == [("ProviderErrors", "deduplicated", 1), ("ProviderErrors", "sent", 1)], f.alerts
    assert ("providers", 4, 2) in f.problems and ("orders", 0, 4) in f.problems, (
        f"errors/warnings: {f.problems}"
    )
    assert (f.features, f.features_by_horizon) == (3, [("1d", 2, 2), ("1h", 1, 1)]), "features by horizon"


async def test_a_week_without_trades_says_so(conn: asyncpg.Connection) -> None:
    await add_log(conn, at(WEEK, 1), "error", "api", "database unavailable")
    f = await weekly_facts(conn, WEEK)
    assert (f.trades, f.pnl, f.win_rate, f.winners, f.losers) == (0, 0, None, [], []), f"empty week: {f}"
    text = weekly_facts_md(f)
    assert "_No trades this week._" in text, f"the facts must say there were no trades:\n{text}"
    assert "| api | 1 | 0 |" in text, f"the week's errors still show without trades:\n{text}"


async def test_log_facts_group_by_source_with_first_and_last_seen(conn: asyncpg.Connection) -> None:
    window = since("24h", WEEK.end)
    t0 = window.start + timedelta(hours=1)
    for minutes, message in [(0, "timeout"), (5, "timeout"), (50, "HTTP 503")]:
        await add_log(conn, t0 + timedelta(minutes=minutes), "error", "polygon", message)
    await add_log(conn, t0, "critical", "db", "pool exhausted")
    await add_log(conn, t0, "warning", "polygon", "slow answer")
    await add_log(conn, window.start - timedelta(seconds=1), "error", "polygon", "before the window")
    f = await log_facts(conn, window, "error")
    polygon = next(g for g in f.groups if g.source == "polygon")
    assert (polygon.count, polygon.first_seen, polygon.last_seen) == (3, t0, t0 + timedelta(minutes=50)), (
        polygon
    )
    assert (polygon.top_message, polygon.top_message_count) == ("timeout", 2), (
        "most frequent message of the group"
    )
    assert {(g.source, g.level) for g in f.groups} == {("polygon", "error"), ("db", "critical")}, (
        "warnings are below --min-level error and must not appear"
    )
    assert f.total_rows == 4
    with_warnings = await log_facts(conn, window, "warning")
    assert with_warnings.total_rows == 5, "--min-level warning adds the warning row"
