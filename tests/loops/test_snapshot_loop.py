"""The watchlist snapshot loop against real Postgres and the Polygon fake, on a test clock:
schedule (holiday, half day), rows like data.snapshot, rate-limit sharing, provider outage,
restart mid-cycle, and one cycle at a time across two processes."""

import asyncio
import time
from datetime import timedelta

import pytest

from app.loops.snapshots import GIVE_UP_AFTER
from app.providers.snapshot import Horizon
from app.trading import ops
from tests.fakes.faults import Fault
from tests.loops.helpers import (
    FRI,
    WED,
    ClockStopped,
    TestClock,
    at,
    features_by_unit,
    sample,
    snapshot_loop,
    until,
)

MONDAY = FRI + timedelta(days=3)


async def cycles_run(wired) -> list:
    rows = await wired.pool.fetch("select scheduled_at, status from loop_cycles order by scheduled_at")
    return [(r["scheduled_at"], r["status"]) for r in rows]


async def test_run_follows_the_market_calendar_over_a_holiday_and_a_half_day(wired) -> None:
    # Started 30 min after Wednesday's last 2-hourly cycle: that one is still due and runs.
    clock = TestClock(at(WED, 21, 0), stop_at=at(MONDAY, 14, 30))
    loop = snapshot_loop(wired.pool, wired.providers, wired.metrics, clock, interval_minutes=120)
    with pytest.raises(ClockStopped):
        await loop.run()
    expected = [at(WED, 20, 30), at(FRI, 14, 30), at(FRI, 16, 30), at(MONDAY, 14, 30)]
    assert await cycles_run(wired) == [(c, "done") for c in expected], (
        "cycles must skip Thanksgiving and stop at Black Friday's 13:00 ET close (18:00 UTC)"
    )
    assert clock.sleeps == [*expected[1:], at(MONDAY, 16, 30)], "the loop slept from cycle to cycle"
    assert await features_by_unit(wired.pool) == {("SPY", "1d"): 4, ("AAPL", "1d"): 4}
    assert sample(wired.metrics, "trader_loop_cycles_total", loop="snapshots", outcome="done") == 4
    assert sample(wired.metrics, "trader_loop_next_cycle_timestamp_seconds", loop="snapshots") == (
        at(MONDAY, 16, 30).timestamp()
    )


async def test_a_cycle_writes_features_rows_exactly_like_data_snapshot(wired) -> None:
    clock = TestClock(at(WED, 15, 0))
    published: list = []
    loop = snapshot_loop(
        wired.pool, wired.providers, wired.metrics, clock, symbols=("SPY",), published=published
    )
    assert await loop.run_cycle(at(WED, 15, 0)) == "done"
    by_hand = await ops.data_snapshot(wired.providers, wired.pool, wired.metrics, ["SPY"], Horizon.d1)
    rows = await wired.pool.fetch("select id, symbol, horizon, payload from features order by id")
    assert len(rows) == 2, f"one row from the loop, one by hand; got {len(rows)}"
    from_loop, manual = rows
    assert (from_loop["symbol"], from_loop["horizon"]) == (manual["symbol"], manual["horizon"])
    assert from_loop["payload"].keys() == manual["payload"].keys() == by_hand["features"][0].keys()
    assert from_loop["payload"]["source"] == manual["payload"]["source"] == "snapshot+aggregates"
    assert [e["feature_id"] for e in published] == [from_loop["id"]], "the stream gets the new row"
    assert sample(wired.metrics, "trader_rows_written_total", table="features") == 2


async def test_interactive_calls_win_over_the_loop(wired, settings) -> None:
    limiter = wired.providers.polygon.http.limiter
    reserve = 20
    # the budget is spent: the loop must leave the next tokens to people
    spent_at = time.monotonic()
    limiter.tokens, limiter.updated = 0.0, spent_at
    clock = TestClock(at(WED, 15, 0))
    loop = snapshot_loop(
        wired.pool, wired.providers, wired.metrics, clock, symbols=("SPY",), rate_reserve=reserve
    )
    cycle = asyncio.create_task(loop.run_cycle(at(WED, 15, 0)))
    await asyncio.sleep(0.05)
    await ops.data_snapshot(wired.providers, wired.pool, wired.metrics, ["AAPL"], Horizon.d1)
    assert await cycle == "done"
    spy = [t for path, query, t in wired.polygon.requests if "SPY" in path + query]
    aapl = [t for path, query, t in wired.polygon.requests if "AAPL" in path + query]
    assert aapl and spy, "both the person's and the loop's requests reached Polygon"
    assert max(aapl) < min(spy), "the loop sent a request while the person's call still needed tokens"
    refill = limiter.refill_per_second
    assert min(spy) - spent_at >= reserve / refill, (
        f"the loop went before the bucket held {reserve} spare tokens (rate {settings.polygon_api_rate}/min)"
    )


async def test_provider_outage_backs_off_then_gives_up_until_the_next_cycle(wired) -> None:
    wired.polygon.faults.add(Fault(status=503, body={"status": "ERROR"}), times=1000)
    clock = TestClock(at(WED, 15, 0))
    symbols = ("SPY", "AAPL", "MSFT", "QQQ", "IWM")
    loop = snapshot_loop(wired.pool, wired.providers, wired.metrics, clock, symbols=symbols)
    assert await loop.run_cycle(at(WED, 15, 0)) == "failed"
    assert clock.slept_seconds(at(WED, 15, 0)) == [5.0, 10.0], "growing backoff between failing symbols"
    attempts = len(wired.polygon.requests)
    assert attempts == GIVE_UP_AFTER * 3, f"3 symbols x 3 attempts, then give up; Polygon saw {attempts}"
    assert sample(wired.metrics, "trader_loop_symbols_total", loop="snapshots", outcome="failed") == len(
        symbols
    )

    wired.polygon.faults.clear()  # Polygon is back: the next cycle stores everything
    assert await loop.run_cycle(at(WED, 15, 15)) == "done"
    assert await features_by_unit(wired.pool) == {(s, "1d"): 1 for s in symbols}
    assert await cycles_run(wired) == [(at(WED, 15, 0), "failed"), (at(WED, 15, 15), "done")]


async def test_a_restart_mid_cycle_resumes_without_writing_a_unit_twice(wired) -> None:
    symbols = ("SPY", "AAPL", "MSFT", "QQQ")
    wired.polygon.faults.add(Fault(status=0, delay=30, path_contains="/ticker/MSFT/"))  # hangs
    first = snapshot_loop(
        wired.pool, wired.providers, wired.metrics, TestClock(at(WED, 15, 0)), symbols=symbols
    )
    crashed = asyncio.create_task(first.run_cycle(at(WED, 15, 0)))
    await until(lambda: wired.polygon.calls("/ticker/MSFT/") > 0, "the MSFT request reaching Polygon")
    crashed.cancel()  # the process dies while MSFT is being fetched
    with pytest.raises(asyncio.CancelledError):
        await crashed
    assert await features_by_unit(wired.pool) == {("SPY", "1d"): 1, ("AAPL", "1d"): 1}

    # The restarted process comes up 4 minutes later: the 15:00 cycle is still due and resumes.
    clock = TestClock(at(WED, 15, 4), stop_at=at(WED, 15, 5))
    restarted = snapshot_loop(wired.pool, wired.providers, wired.metrics, clock, symbols=symbols)
    with pytest.raises(ClockStopped):
        await restarted.run()
    assert await features_by_unit(wired.pool) == {(s, "1d"): 1 for s in symbols}, (
        "a unit written twice or lost"
    )
    row = await wired.pool.fetchrow("select status, attempts, units_done from loop_cycles")
    assert dict(row) == {"status": "done", "attempts": 2, "units_done": 4}
    assert wired.polygon.calls("/ticker/SPY/") == 1, "the resumed cycle asked Polygon again for a stored unit"


async def test_two_processes_never_run_a_cycle_twice(wired, settings) -> None:
    from app.db.pool import create_pool

    other_pool = await create_pool(settings)  # a second process: its own connections
    try:
        wired.polygon.faults.add(Fault(status=0, delay=0.3, path_contains="/ticker/SPY/"))
        a = snapshot_loop(wired.pool, wired.providers, wired.metrics, TestClock(at(WED, 15, 0)))
        b = snapshot_loop(other_pool, wired.providers, wired.metrics, TestClock(at(WED, 15, 0)))
        outcomes = await asyncio.gather(a.run_cycle(at(WED, 15, 0)), b.run_cycle(at(WED, 15, 0)))
        assert sorted(outcomes) == ["done", "skipped"], f"both processes ran the cycle: {outcomes}"
        # and once finished, the cycle is not run again by anyone
        assert await b.run_cycle(at(WED, 15, 0)) == "skipped"
    finally:
        await other_pool.close()
    assert await features_by_unit(wired.pool) == {("SPY", "1d"): 1, ("AAPL", "1d"): 1}
