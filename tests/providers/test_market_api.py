"""`GET /api/v1/market/overview` through the real app and Postgres, Polygon played by its fake."""

from tests.fakes.faults import Fault
from tests.providers.helpers import sample

OVERVIEW = "/api/v1/market/overview"


async def test_missing_key_answers_503_naming_it(make_stack) -> None:
    async with make_stack(polygon_api_key=None) as stack:
        response = await stack.client.get(OVERVIEW)
    assert response.status_code == 503 and response.json()["detail"] == "POLYGON_API_KEY is not set"


async def test_free_plan_answers_from_end_of_day_data(make_stack) -> None:
    async with make_stack() as stack:
        response = await stack.client.get(OVERVIEW)
    body = response.json()
    assert response.status_code == 200, body
    assert body["source"] == "grouped_daily" and "NOT_AUTHORIZED" in body["note"]
    assert [q["symbol"] for q in body["quotes"]] == ["SPY", "QQQ", "IWM", "DIA"], (
        "MARKET_OVERVIEW_SYMBOLS order"
    )


async def test_paid_plan_answers_from_the_snapshot(make_stack) -> None:
    async with make_stack() as stack:
        stack.polygon.plan = "paid"
        response = await stack.client.get(OVERVIEW, params={"symbols": "aapl,MSFT,XYZQ"})
    body = response.json()
    assert body["source"] == "snapshot" and body["note"] is None
    assert [q["symbol"] for q in body["quotes"]] == ["AAPL", "MSFT"] and body["missing"] == ["XYZQ"]


async def test_malformed_symbols_are_a_422(make_stack) -> None:
    async with make_stack() as stack:
        response = await stack.client.get(OVERVIEW, params={"symbols": "SPY,,<script>"})
    assert response.status_code == 422 and "symbols" in str(response.json()["detail"])


async def test_token_is_required(make_stack) -> None:
    async with make_stack() as stack:
        response = await stack.service.anonymous.get(OVERVIEW)
    assert response.status_code == 401


async def test_polygon_down_is_a_503_with_retry_after_and_pages(make_stack) -> None:
    async with make_stack(alert_provider_error_ratio=0.5) as stack:
        stack.polygon.faults.add(Fault(502, {"status": "ERROR"}), times=50)
        response = await stack.client.get(OVERVIEW)
        await stack.client.get(OVERVIEW)  # 6 failed calls: enough for the error-ratio alert
        await stack.service.app.state.providers.notifier.drain(5)
        metrics = stack.service.app.state.metrics
    assert response.status_code == 503 and "Polygon unavailable" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    assert sample(metrics, "trader_provider_requests_total", provider="polygon", status="502") == 6
    assert any("TraderProviderErrors" in m["content"] for m in stack.discord.messages), stack.discord.messages


async def test_wrong_key_is_a_502_naming_the_variable(make_stack) -> None:
    async with make_stack() as stack:
        stack.polygon.api_key = "rotated"
        response = await stack.client.get(OVERVIEW)
    assert response.status_code == 502 and "POLYGON_API_KEY" in response.json()["detail"]


async def test_unhandled_exception_is_a_500_and_an_alert(make_stack, monkeypatch) -> None:
    async with make_stack() as stack:
        polygon = stack.service.app.state.providers.polygon

        async def broken(symbols: list[str]) -> None:
            raise RuntimeError("bug in quotes")

        monkeypatch.setattr(polygon, "quotes", broken)
        response = await stack.client.get(OVERVIEW)
        await stack.service.app.state.providers.notifier.drain(5)
    assert response.status_code == 500 and "bug" not in response.text, "internals must not leak"
    alerts = [m["content"] for m in stack.discord.messages]
    assert any("TraderUnhandledException" in a and "RuntimeError" in a for a in alerts), alerts


async def test_unknown_query_parameter_is_a_422(make_stack) -> None:
    async with make_stack() as stack:
        response = await stack.client.get(OVERVIEW, params={"symbol": "SPY"})
    assert response.status_code == 422 and "symbol" in response.text, (
        "a misspelt parameter must not be ignored"
    )
