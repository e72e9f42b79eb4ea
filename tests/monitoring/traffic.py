"""Traffic that makes every series a dashboard shows exist in the running service: successful
and refused API calls, stored rows, provider calls (answered, rate-limited, failing until the
breaker opens), a placed and a rejected order, a Discord page, and finally a database outage
(5xx answers, trader_db_up 0, pg_up 0)."""

from __future__ import annotations

import time

import httpx

from tests.fakes.faults import Fault
from tests.monitoring.helpers import prometheus_query, wait_until
from tests.monitoring.stack import API_TOKEN, Stack

AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def _trade(i: int) -> dict:
    return {
        "ts": f"2026-01-02T15:04:{i:02d}Z",
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "qty": "1",
        "avg_price": "187.25",
        "tags": ["monitoring-test"],
    }


def _expect(response: httpx.Response, status: int, what: str) -> None:
    assert response.status_code == status, (
        f"{what}: want {status}, got {response.status_code} {response.text[:300]}"
    )


def drive(stack: Stack) -> None:
    with httpx.Client(base_url=stack.app_url, timeout=10) as client:
        for _ in range(5):
            _expect(client.get("/api/v1/diag/health"), 200, "health")
        _expect(
            client.post("/api/v1/trades", json=[_trade(i) for i in range(3)], headers=AUTH),
            201,
            "trade batch",
        )
        _expect(client.post("/api/v1/trades", json=_trade(9), headers=AUTH), 201, "one trade")
        for _ in range(3):
            _expect(client.get("/api/v1/trades", headers=AUTH), 200, "list trades")
        _expect(client.get("/api/v1/trades"), 401, "list trades without a token")
        _expect(client.post("/api/v1/trades", json={"symbol": "AAPL"}, headers=AUTH), 422, "invalid trade")
        providers_and_orders(stack, client)
        time.sleep(3)  # a few scrapes of the healthy state
        database_outage(stack, client)


def _order(qty: int, order_id: str) -> dict:
    args = {"symbol": "SPY", "side": "buy", "qty": str(qty), "type": "market", "client_order_id": order_id}
    return {"op": "orders.place", "args": args}


def providers_and_orders(stack: Stack, client: httpx.Client) -> None:
    overview = {"symbols": "SPY,AAPL"}
    _expect(client.get("/api/v1/market/overview", params=overview, headers=AUTH), 200, "market overview")
    snapshot = {"op": "data.snapshot", "args": {"symbols": ["SPY"], "horizon": "1m"}}
    _expect(client.post("/api/v1/assistant/exec", json=snapshot, headers=AUTH), 200, "data.snapshot")
    _expect(client.post("/api/v1/assistant/exec", json=_order(2, "mon-1"), headers=AUTH), 200, "order placed")
    _expect(
        client.post("/api/v1/assistant/exec", json=_order(50, "mon-2"), headers=AUTH), 403, "max_qty order"
    )
    # Whatever the overview answers (it degrades to end-of-day data where it can), these calls
    # reach Polygon: the panels below check the 429s, errors and the breaker in the metrics.
    stack.polygon.faults.add(Fault(429, {"status": "ERROR"}, headers={"Retry-After": "1"}), times=2)
    stack.polygon.faults.add(Fault(500, {"status": "ERROR"}), times=4)  # breaker threshold is 2
    for _ in range(6):
        client.get("/api/v1/market/overview", params=overview, headers=AUTH)
    wait_until(lambda: stack.discord.messages, 15, "the app to page Discord about Polygon")


def database_outage(stack: Stack, client: httpx.Client) -> None:
    """Stop the stack's own PostgreSQL: health answers 503 and both probes report it down."""
    assert stack.postgres is not None
    stack.postgres.stop("immediate")
    wait_until(lambda: client.get("/api/v1/diag/health").status_code == 503, 30, "health to answer 503")
    for _ in range(5):
        _expect(client.get("/api/v1/diag/health"), 503, "health with the database stopped")
    wait_until(
        lambda: (
            prometheus_query(stack.prometheus_url, "trader_db_up == 0")
            and prometheus_query(stack.prometheus_url, "pg_up == 0")
        ),
        30,
        "Prometheus to see the database down (trader_db_up and pg_up at 0)",
    )
    time.sleep(2)  # a couple more scrapes so rates over the outage have two samples
