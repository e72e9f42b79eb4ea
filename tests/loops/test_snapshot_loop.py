"""The watchlist snapshot loop against real Postgres and the Polygon fake, on a test clock:
schedule (holiday, half day), rows like data.snapshot, rate-limit sharing, provider outage,
restart mid-cycle, and one cycle at a time across two processes."""

import asyncio
import contextlib
import time
from datetime import timedelta

import pytest

from app.loops.snapshots import GIVE_UP_AFTER
from app.providers.limits import RateLimiter
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


async def test_the_loop_never_delays_an_interactive_request(wired) -> None:
    # A token per 10 s, so none comes back during the test: the tokens the person finds are the
    # ones the loop left. Any wait for a token would exceed HTTP_MAX_WAIT_SECONDS (1 s) and fail
    # at once as "throttled", so a delayed request cannot pass unnoticed.
    polygon = wired.providers.polygon
    polygon.http.limiter = limiter = RateLimiter(6)
    reserve = 4
    limiter.tokens = reserve + 1  # one token to spare: the loop may send exactly one request
    clock = TestClock(at(WED, 15, 0))
    loop = snapshot_loop(wired.pool, wired.providers, wired.metrics, clock, rate_reserve=reserve)
    cycle = asyncio.create_task(loop.run_cycle(at(WED, 15, 0)))
    try:
        await until(lambda: len(wired.polygon.requests) > 0, "the loop's first request")
        await asyncio.sleep(0.5)  # the loop sends whatever else the bucket lets it
        sent_by_loop = len(wired.polygon.requests)
        people = await asyncio.gather(
            *(polygon.snapshot([s]) for s in ("MSFT", "QQQ", "IWM", "NVDA")), return_exceptions=True
        )
    finally:
        cycle.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await cycle
    delayed = [str(e) for e in people if isinstance(e, BaseException)]
    assert not delayed, f"interactive requests waited for the loop's tokens: {delayed}"
    assert sent_by_loop == 1, f"the loop sent {sent_by_loop} requests with one token above the reserve"


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


RESTART_SYMBOLS = ("SPY", "AAPL", "MSFT", "QQQ")


async def crash_mid_cycle(wired) -> None:
    """The 15:00 cycle's process dies while MSFT is being fetched: SPY and AAPL are stored."""
    wired.polygon.faults.add(Fault(status=0, delay=30, path_contains="/ticker/MSFT/"))  # hangs
    first = snapshot_loop(
        wired.pool, wired.providers, wired.metrics, TestClock(at(WED, 15, 0)), symbols=RESTART_SYMBOLS
    )
    crashed = asyncio.create_task(first.run_cycle(at(WED, 15, 0)))
    await until(lambda: wired.polygon.calls("/ticker/MSFT/") > 0, "the MSFT request reaching Polygon")
    crashed.cancel()
    with pytest.raises(asyncio.CancelledError):
        await crashed
    assert await features_by_unit(wired.pool) == {("SPY", "1d"): 1, ("AAPL", "1d"): 1}


async def test_a_restart_mid_cycle_resumes_without_writing_a_unit_twice(wired) -> None:
    symbols = RESTART_SYMBOLS
    await crash_mid_cycle(wired)

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


@pytest.mark.parametrize(
    ("restart", "after"),
    [
        (at(WED, 15, 20), [(at(WED, 15, 15), "done")]),  # the 15:15 cycle is due and runs
        (at(WED, 23, 0), []),  # after the close: nothing due until Friday
    ],
    ids=["during-the-session", "after-the-close"],
)
async def test_a_cycle_restarted_more_than_an_interval_late_is_abandoned(wired, restart, after) -> None:
    await crash_mid_cycle(wired)
    before = await wired.pool.fetchval("select now()")
    clock = TestClock(restart, stop_at=restart + timedelta(minutes=1))
    restarted = snapshot_loop(wired.pool, wired.providers, wired.metrics, clock, symbols=RESTART_SYMBOLS)
    with pytest.raises(ClockStopped):
        await restarted.run()
    rows = await wired.pool.fetch("select * from loop_cycles order by scheduled_at")
    assert [(r["scheduled_at"], r["status"]) for r in rows] == [(at(WED, 15, 0), "abandoned"), *after], (
        "a cycle that can no longer be resumed stayed running"
    )
    stale = rows[0]
    assert stale["finished_at"] is not None and stale["finished_at"] >= before, "when it was abandoned"
    assert stale["units_done"] == 2, "SPY and AAPL were stored before the crash"
    assert sample(wired.metrics, "trader_loop_cycles_total", loop="snapshots", outcome="abandoned") == 1
    # a later cycle neither abandons it again nor counts it twice
    assert await restarted.run_cycle(at(FRI, 14, 30)) == "done"
    assert sample(wired.metrics, "trader_loop_cycles_total", loop="snapshots", outcome="abandoned") == 1


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
