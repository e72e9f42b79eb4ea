"""Alert rules evaluated by the poller against features rows (real Postgres), firing to the
Discord fake: once per crossing, cooldown, percentage move over a window, a feature field, the
record in `logs`, and no second firing after a restart."""

import asyncio
from datetime import datetime, timedelta

from app.loops import rules
from app.loops.poller import AlertPoller
from tests.loops.helpers import WED, TestClock, add_feature, at, sample, until

T0 = at(WED, 15, 0)


def poller(wired, clock: TestClock, published: list | None = None) -> AlertPoller:
    return AlertPoller(
        wired.pool,
        wired.providers.notifier,
        wired.metrics,
        clock=clock,
        poll_seconds=60,
        publish=(published if published is not None else []).append,
    )


async def rule(wired, **over) -> int:
    values = {
        "kind": "price_cross",
        "symbol": "SPY",
        "direction": "above",
        "level": 100.0,
        "cooldown_seconds": 600,
    }
    return (await rules.create(wired.pool, values | over))["id"]


async def see(
    wired, clock: TestClock, p: AlertPoller, price: float, after_minutes: float = 1, **payload
) -> int:
    """A new SPY snapshot `after_minutes` later, then one poll; returns how many rules fired."""
    clock.current += timedelta(minutes=after_minutes)
    await add_feature(wired.pool, "SPY", {"price": price, **payload}, clock.current)
    return await p.poll_once()


async def firings(wired) -> list[dict]:
    rows = await wired.pool.fetch("select payload from logs where source = 'alert_rules' order by id")
    return [r["payload"] for r in rows]


async def test_a_price_rule_fires_once_per_crossing_and_respects_its_cooldown(wired) -> None:
    clock, published = TestClock(T0), []
    p = poller(wired, clock, published)
    rule_id = await rule(wired)
    fired = [await see(wired, clock, p, price) for price in (95, 99, 101, 103, 98)]
    assert fired == [0, 0, 1, 0, 0], "95 sets the baseline; only the move from 99 to 101 is a crossing"
    assert await see(wired, clock, p, 102) == 0, (
        "crossed again 2 minutes after firing: inside the 10 min cooldown"
    )
    assert await see(wired, clock, p, 97) == 0
    assert await see(wired, clock, p, 104, after_minutes=11) == 1, "a crossing after the cooldown fires"

    assert [(f["value"], f["previous_value"]) for f in await firings(wired)] == [(101, 99), (104, 97)]
    first = (await firings(wired))[0]
    assert first["rule_id"] == rule_id and first["level"] == 100 and first["direction"] == "above"
    await wired.providers.notifier.drain(10)
    await until(lambda: len(wired.discord.messages) == 2, "two Discord messages")
    assert "SPY price 101 crossed above 100" in wired.discord.messages[0]["content"]
    assert [e["type"] for e in published] == ["alert", "alert"], "firings go to the live stream too"
    assert sample(wired.metrics, "trader_alert_rules_fired_total", kind="price_cross") == 2
    assert sample(wired.metrics, "trader_alert_rules_suppressed_total", kind="price_cross") == 1


async def test_without_a_cooldown_staying_beyond_the_level_fires_nothing_more(wired) -> None:
    clock = TestClock(T0)
    p = poller(wired, clock)
    await rule(wired, cooldown_seconds=0)
    fired = [await see(wired, clock, p, price) for price in (101, 99, 101, 102, 103, 99, 101)]
    assert fired == [0, 0, 1, 0, 0, 0, 1], "a rule fires when the price crosses, not while it stays above"


async def test_a_restarted_poller_does_not_fire_the_same_crossing_again(wired) -> None:
    clock = TestClock(T0)
    await rule(wired, direction="below", level=50.0)
    first = poller(wired, clock)
    assert [await see(wired, clock, first, price) for price in (60, 49)] == [0, 1]
    restarted = poller(wired, TestClock(clock.current))
    assert await restarted.poll_once() == 0, "the restarted poller re-evaluated a row it had already seen"
    assert await see(wired, clock, restarted, 48) == 0, "still below: no new crossing"
    assert len(await firings(wired)) == 1


async def test_a_percentage_move_over_a_window(wired) -> None:
    clock = TestClock(T0)
    p = poller(wired, clock)
    await rule(wired, kind="pct_move", level=2.0, window_minutes=60)
    assert await see(wired, clock, p, 100.0) == 0, "no price an hour back yet"
    await add_feature(wired.pool, "SPY", {"note": "no price"}, clock.current + timedelta(minutes=1))
    assert await see(wired, clock, p, 100.5, after_minutes=60) == 0, "+0.5 % over the hour: below the level"
    assert await see(wired, clock, p, 103.0) == 1, "+3 % against the price an hour before: fires"
    (firing,) = await firings(wired)
    assert firing["value"] == 3.0 and firing["base_price"] == 100.0, f"the record lacks the basis: {firing}"


async def test_a_feature_field_rule_reads_a_dotted_path_and_skips_rows_without_it(wired) -> None:
    clock = TestClock(T0)
    p = poller(wired, clock)
    await rule(wired, kind="feature_cross", field="horizon.realized_vol_pct", level=30.0)
    assert await see(wired, clock, p, 100, horizon={"realized_vol_pct": 20.0}) == 0
    assert await see(wired, clock, p, 100, horizon={"bars_used": 1}) == 0, (
        "a row without the field is skipped"
    )
    assert await see(wired, clock, p, 100, horizon={"realized_vol_pct": 35.5}) == 1
    assert (await firings(wired))[0]["value"] == 35.5


async def test_a_crossing_in_an_hours_old_row_is_not_announced(wired) -> None:
    clock = TestClock(T0)
    p = poller(wired, clock)
    await rule(wired)
    assert await see(wired, clock, p, 90) == 0
    await add_feature(wired.pool, "SPY", {"price": 110}, clock.current - timedelta(hours=2))
    assert await p.poll_once() == 0, "a backlog row two hours old fired an alert"
    assert await see(wired, clock, p, 111) == 0, "the stale crossing still moved the rule above the level"


class ParkedClock(TestClock):
    """Its sleeps never end: only a poke brings the poller's next poll."""

    __test__ = False

    async def sleep_until(self, when: datetime) -> None:
        self.sleeps.append(when)
        await asyncio.Event().wait()


async def test_new_snapshots_are_evaluated_at_once_when_the_loop_pokes(wired) -> None:
    clock = ParkedClock(T0)
    p = poller(wired, clock)
    await rule(wired)
    await add_feature(wired.pool, "SPY", {"price": 90}, T0)
    running = asyncio.create_task(p.run())
    try:
        await until(lambda: len(clock.sleeps) == 1, "the first poll (the baseline)")
        await add_feature(wired.pool, "SPY", {"price": 110}, T0)
        p.poke()
        await until(lambda: len(clock.sleeps) == 2, "the poll the poke asked for")
        assert len(await firings(wired)) == 1, "the poked poll did not evaluate the new row"
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_disabled_rule_is_not_evaluated(wired) -> None:
    clock = TestClock(T0)
    p = poller(wired, clock)
    rule_id = await rule(wired)
    await see(wired, clock, p, 90)
    await rules.disable(wired.pool, rule_id)
    assert await see(wired, clock, p, 110) == 0
    assert sample(wired.metrics, "trader_alert_rules_enabled") == 0
