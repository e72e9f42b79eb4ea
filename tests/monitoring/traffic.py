"""Traffic that makes every series a dashboard shows exist in the running service: successful
and refused API calls, stored rows, and finally a database outage (5xx answers, trader_db_up 0,
pg_up 0)."""

from __future__ import annotations

import time

import httpx

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
        time.sleep(3)  # a few scrapes of the healthy state
        database_outage(stack, client)


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
