"""`/api/v1/assistant/*` through the real app and Postgres: every op's success and error paths,
guardrails as HTTP answers, and exactly-once orders (sequential, concurrent, after a timeout)
counted at the Tradier fake."""

import asyncio

from tests.fakes.faults import Fault
from tests.providers.helpers import sample

EXEC = "/api/v1/assistant/exec"
ORDERS = "/v1/accounts/VA000001/orders"


def order(**over: object) -> dict:
    args = {"symbol": "SPY", "side": "buy", "qty": "2", "type": "limit", "price": "490.00"}
    return {"op": "orders.place", "args": {**args, **over}}


async def test_actions_list_ops_and_configured_providers(make_stack) -> None:
    async with make_stack(TRADIER_ACCESS_TOKEN=None, trading_enabled=False) as stack:
        body = (await stack.client.get("/api/v1/assistant/actions")).json()
    available = {a["op"]: a["available"] for a in body["actions"]}
    assert available == {"data.snapshot": True, "orders.preview": False, "orders.place": False}
    assert body["providers"] == {"polygon": True, "tradier": False, "discord": True}
    assert body["trading_enabled"] is False


async def test_snapshot_stores_one_feature_row_per_symbol(make_stack) -> None:
    async with make_stack() as stack:
        response = await stack.client.post(
            EXEC, json={"op": "data.snapshot", "args": {"symbols": ["SPY", "aapl", "XYZQ"], "horizon": "5d"}}
        )
        stored = (await stack.client.get("/api/v1/features", params={"symbol": "AAPL"})).json()["items"]
        metrics = stack.service.app.state.metrics
    result = response.json()["result"]
    assert response.status_code == 200, response.text
    assert result["source"] == "grouped_daily+previous_close" and result["missing"] == ["XYZQ"]
    assert len(result["feature_ids"]) == 2
    aapl = next(f for f in result["features"] if f["symbol"] == "AAPL")
    assert aapl["horizon"]["bars_used"] == 6 and "realized_vol_pct" in aapl["horizon"]
    assert aapl["source"] == "grouped_daily+aggregates", "the payload must say what data it is built from"
    assert [r["horizon"] for r in stored] == ["5d"] and stored[0]["payload"]["price"] == aapl["price"]
    assert sample(metrics, "trader_rows_written_total", table="features") == 2


async def test_snapshot_without_key_is_a_503_naming_it(make_stack) -> None:
    async with make_stack(polygon_api_key=None) as stack:
        response = await stack.client.post(EXEC, json={"op": "data.snapshot", "args": {"symbols": ["SPY"]}})
    assert response.status_code == 503 and response.json()["detail"] == "POLYGON_API_KEY is not set"


async def test_unknown_op_and_bad_args_are_422(make_stack) -> None:
    async with make_stack() as stack:
        unknown = await stack.client.post(EXEC, json={"op": "orders.cancel", "args": {}})
        no_price = await stack.client.post(EXEC, json=order(price=None))
        fraction = await stack.client.post(EXEC, json=order(qty="1.5"))
        bad_id = await stack.client.post(EXEC, json=order(client_order_id="has spaces"))
    assert unknown.status_code == 422 and "op" in unknown.text
    assert no_price.status_code == 422 and "price is required for type=limit" in no_price.text
    assert fraction.status_code == 422 and "whole number" in fraction.text
    assert bad_id.status_code == 422 and "client_order_id" in bad_id.text


async def test_preview_works_with_trading_disabled(make_stack) -> None:
    async with make_stack(trading_enabled=False) as stack:
        response = await stack.client.post(EXEC, json={**order(), "op": "orders.preview"})
    result = response.json()["result"]
    assert response.status_code == 200, response.text
    assert result["preview"]["result"] is True and result["notional"] == "980.00"
    assert result["trading_enabled"] is False and stack.tradier.orders == []


async def test_place_with_trading_disabled_is_refused_naming_the_rule(make_stack) -> None:
    async with make_stack(trading_enabled=False) as stack:
        response = await stack.client.post(EXEC, json=order())
        metrics = stack.service.app.state.metrics
    detail = response.json()["detail"]
    assert response.status_code == 403 and detail["rule"] == "trading_disabled"
    assert detail["setting"] == "TRADING_ENABLED" and stack.tradier.posts_by_tag == {}
    assert sample(metrics, "trader_orders_rejected_total", rule="trading_disabled") == 1
    assert sample(metrics, "trader_orders_total", outcome="rejected") == 1


async def test_notional_guardrail_over_http(make_stack) -> None:
    async with make_stack(max_order_notional=500) as stack:
        response = await stack.client.post(EXEC, json=order())
    assert response.status_code == 403 and response.json()["detail"]["rule"] == "max_notional"


async def test_place_then_resubmit_reaches_the_broker_once(make_stack) -> None:
    async with make_stack() as stack:
        first = await stack.client.post(EXEC, json=order(client_order_id="api-1"))
        again = await stack.client.post(EXEC, json=order(client_order_id="api-1"))
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert first.json()["result"]["status"] == "placed" and not first.json()["result"]["duplicate"]
    assert again.json()["result"]["duplicate"] and stack.tradier.placed("api-1") == 1


async def test_concurrent_submissions_over_http_reach_the_broker_once(make_stack) -> None:
    async with make_stack() as stack:
        answers = await asyncio.gather(
            *(stack.client.post(EXEC, json=order(client_order_id="api-2")) for _ in range(4))
        )
    assert [a.status_code for a in answers] == [200] * 4, [a.text for a in answers]
    assert stack.tradier.placed("api-2") == 1, "concurrent submissions of one client_order_id duplicated it"


async def test_after_a_timeout_the_resubmission_does_not_duplicate(make_stack) -> None:
    async with make_stack(http_timeout_seconds=0.5) as stack:
        stack.tradier.faults.add(Fault(status=0, delay=2.0, after=True))
        stack.tradier.faults.add(Fault(500, {"fault": "down"}, method="GET", path_contains=ORDERS), times=3)
        unsettled = await stack.client.post(EXEC, json=order(client_order_id="api-3"))
        settled = await stack.client.post(EXEC, json=order(client_order_id="api-3"))
    assert unsettled.status_code == 503 and "Retry-After" in unsettled.headers
    assert "resubmit the same client_order_id" in unsettled.json()["detail"]
    assert settled.status_code == 200 and settled.json()["result"]["status"] == "placed"
    assert stack.tradier.placed("api-3") == 1


async def test_same_id_for_another_order_is_409(make_stack) -> None:
    async with make_stack() as stack:
        await stack.client.post(EXEC, json=order(client_order_id="api-4"))
        response = await stack.client.post(EXEC, json=order(client_order_id="api-4", qty="3"))
    assert response.status_code == 409 and "api-4" in response.json()["detail"]


async def test_broker_rejection_is_a_422_with_its_messages(make_stack) -> None:
    async with make_stack() as stack:
        stack.tradier.buying_power = 0
        response = await stack.client.post(EXEC, json=order(client_order_id="api-5"))
    detail = response.json()["detail"]
    assert response.status_code == 422 and detail["status"] == "rejected"
    assert "DayTradingBuyingPowerExceeded" in detail["messages"][0]


async def test_tradier_not_configured_names_the_variable(make_stack) -> None:
    async with make_stack(TRADIER_ACCESS_TOKEN=None) as stack:
        response = await stack.client.post(EXEC, json=order())
    assert (
        response.status_code == 503
        and "TRADIER_ACCESS_TOKEN (or TRADIER_API_KEY) is not set" in response.text
    )


async def test_the_tokens_only_account_is_used_without_an_account_id(make_stack) -> None:
    async with make_stack(tradier_account_id=None) as stack:
        response = await stack.client.post(EXEC, json=order(client_order_id="api-7"))
    assert response.status_code == 200, response.text
    assert stack.tradier.placed("api-7") == 1


async def test_several_accounts_without_an_account_id_is_a_503_listing_them(make_stack) -> None:
    async with make_stack(tradier_account_id=None) as stack:
        stack.tradier.accounts = ["VA000001", "VA000002"]
        response = await stack.client.post(EXEC, json={**order(), "op": "orders.preview"})
    detail = response.json()["detail"]
    assert response.status_code == 503 and detail.startswith("TRADIER_ACCOUNT_ID is not set"), detail
    assert "VA000001, VA000002" in detail


async def test_tradier_down_is_a_503_and_nothing_is_sent(make_stack) -> None:
    async with make_stack(breaker_failure_threshold=1) as stack:
        stack.tradier.faults.add(Fault(503, {"fault": "down"}, method="GET"), times=10)
        response = await stack.client.post(
            EXEC, json={**order(type="market", price=None), "op": "orders.place"}
        )
    assert response.status_code == 503 and "Tradier unavailable" in response.json()["detail"]
    assert stack.tradier.posts_by_tag == {}, "no price for the notional check, so nothing may be sent"


async def test_outcomes_are_journaled_as_logs_rows_for_the_review(make_stack) -> None:
    async with make_stack(max_order_qty=5) as stack:
        await stack.client.post(EXEC, json=order(qty="6"))  # max_qty
        await stack.client.post(EXEC, json=order(client_order_id="api-6"))
        await stack.client.post(EXEC, json=order(client_order_id="api-6"))
        providers = stack.service.app.state.providers
        providers.notifier.notify("test alert", alert="TestAlert")
        await providers.notifier.drain(5)
        await providers.journal.drain(5)
        logs = {}
        for source in ("orders", "providers", "alerts"):
            page = await stack.client.get("/api/v1/logs", params={"source": source, "limit": 100})
            logs[source] = [row["payload"] for row in page.json()["items"]]
    outcomes = sorted((p["outcome"], p.get("rule")) for p in logs["orders"])
    assert outcomes == [("duplicate", None), ("placed", None), ("rejected", "max_qty")], logs["orders"]
    assert {"provider": "tradier", "status": "200"} in logs["providers"], logs["providers"]
    assert {"provider": "discord", "status": "204"} in logs["providers"], logs["providers"]
    assert logs["alerts"] == [{"alert": "TestAlert", "outcome": "sent"}]


async def test_unknown_argument_is_a_422(make_stack) -> None:
    async with make_stack() as stack:
        response = await stack.client.post(EXEC, json=order(quantity="2"))
    assert response.status_code == 422 and "quantity" in response.text
    assert stack.tradier.posts_by_tag == {}


async def test_wrong_tradier_token_is_a_502_naming_the_variable(make_stack) -> None:
    async with make_stack() as stack:
        stack.tradier.token = "revoked"
        response = await stack.client.post(EXEC, json={**order(), "op": "orders.preview"})
    assert response.status_code == 502 and "TRADIER_ACCESS_TOKEN" in response.json()["detail"]


async def test_preview_refused_by_tradier_is_a_422_with_its_messages(make_stack) -> None:
    async with make_stack() as stack:
        stack.tradier.buying_power = 0
        response = await stack.client.post(EXEC, json={**order(), "op": "orders.preview"})
    assert response.status_code == 422 and "DayTradingBuyingPowerExceeded" in response.json()["detail"]
