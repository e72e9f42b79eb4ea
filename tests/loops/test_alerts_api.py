"""`/api/v1/alerts` (create, list, disable) and the service with both loops switched on: its
lifespan starts them, a rule made through the API fires to Discord, and shutdown stops them."""

import asyncio
from datetime import UTC, datetime

from app.loops.calendar import MarketSchedule
from tests.api.conftest import running
from tests.fakes.polygon import API_KEY as POLYGON_KEY
from tests.loops.helpers import sample, until
from tests.providers.helpers import fast_settings

PRICE_RULE = {
    "kind": "price_cross",
    "symbol": "spy",
    "direction": "above",
    "level": 100,
    "cooldown_seconds": 0,
}


async def test_create_list_and_disable(pg_url: str) -> None:
    async with running(fast_settings(database_url=pg_url)) as service:
        created = await service.client.post("/api/v1/alerts", json=PRICE_RULE)
        assert created.status_code == 201, created.text
        rule = created.json()
        assert rule["symbol"] == "SPY" and rule["enabled"] and rule["fired_count"] == 0
        disabled = await service.client.post(f"/api/v1/alerts/{rule['id']}/disable")
        assert disabled.status_code == 200 and disabled.json()["disabled_at"] is not None
        await service.client.post("/api/v1/alerts", json=PRICE_RULE | {"level": 200})
        enabled = (await service.client.get("/api/v1/alerts", params={"enabled": "true"})).json()["rules"]
        assert [r["level"] for r in enabled] == [200], "the disabled rule is still listed as enabled"
        assert len((await service.client.get("/api/v1/alerts")).json()["rules"]) == 2
        missing = await service.client.post("/api/v1/alerts/999/disable")
        assert missing.status_code == 404 and "999" in missing.json()["detail"]
        assert (await service.client.post(f"/api/v1/alerts/{2**64}/disable")).status_code == 422
        assert (await service.anonymous.get("/api/v1/alerts")).status_code == 401


async def test_kind_specific_fields_are_checked_and_named(pg_url: str) -> None:
    async with running(fast_settings(database_url=pg_url)) as service:
        cases = {
            "window_minutes": PRICE_RULE | {"kind": "pct_move"},
            "field": PRICE_RULE | {"kind": "feature_cross"},
            "direction": PRICE_RULE | {"direction": "sideways"},
            "horizon": PRICE_RULE | {"horizon": "2w"},
        }
        for named, body in cases.items():
            answer = await service.client.post("/api/v1/alerts", json=body)
            assert answer.status_code == 422 and named in answer.text, (
                f"{named}: {answer.status_code} {answer.text}"
            )


async def test_the_service_runs_both_loops_when_enabled(pg_url: str, polygon, discord) -> None:
    settings = fast_settings(
        database_url=pg_url,
        polygon_api_key=POLYGON_KEY,
        polygon_base_url=polygon[1],
        discord_webhook_url=discord[0].webhook_url(discord[1]),
        enable_background_loops=True,
        enable_alerts_poller=True,
        watchlist_symbols="SPY",
        alerts_poll_seconds=0.05,
    )
    async with running(settings) as service:
        metrics = service.app.state.metrics
        rule_id = (await service.client.post("/api/v1/alerts", json=PRICE_RULE)).json()["id"]

        async def add(price: float) -> None:
            row = {
                "ts": datetime.now(UTC).isoformat(),
                "symbol": "SPY",
                "horizon": "1d",
                "payload": {"price": price},
            }
            assert (await service.client.post("/api/v1/features", json=row)).status_code == 201

        async def last_value() -> float | None:
            rules = (await service.client.get("/api/v1/alerts")).json()["rules"]
            return next(r["last_value"] for r in rules if r["id"] == rule_id)

        await add(90)
        for _ in range(400):  # the poller must see 90 first: a new rule's baseline is the latest row
            if await last_value() == 90:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the poller never evaluated the rule against the 90 row")
        await add(110)
        await until(lambda: len(discord[0].messages) == 1, "the alert to reach Discord")
        assert "SPY price 110 crossed above 100" in discord[0].messages[0]["content"]

        gauge = {"name": "trader_loop_next_cycle_timestamp_seconds", "loop": "snapshots"}
        await until(
            lambda: sample(metrics, **gauge) > 0, "the snapshot loop to load the calendar and schedule"
        )
        next_cycle = sample(metrics, **gauge)
        moment = datetime.fromtimestamp(next_cycle, UTC)
        assert moment in MarketSchedule(15).cycles_on(moment.date()), (
            f"the snapshot loop is not waiting for a scheduled cycle (gauge {next_cycle})"
        )
    leftovers = [
        t.get_name() for t in asyncio.all_tasks() if t.get_name() in ("snapshot-loop", "alerts-poller")
    ]
    assert not leftovers, f"loops still running after shutdown: {leftovers}"
