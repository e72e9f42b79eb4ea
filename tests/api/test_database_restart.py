"""The database restarts under a running service: 503 (with Retry-After) while it is down, normal
answers again once it is back, no service restart. Uses its own cluster, not the shared one."""

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.ops.localpg import PostgresServer
from tests.api.conftest import running, settings_for
from tests.api.factories import trade


@pytest.fixture
def own_pg() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.destroy()


async def eventually_ok(client: httpx.AsyncClient, path: str, seconds: float = 30) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        r = await client.get(path)
        if r.status_code == 200 or asyncio.get_running_loop().time() > deadline:
            return r
        await asyncio.sleep(0.2)


async def test_service_answers_503_while_the_database_is_down_and_recovers(own_pg: PostgresServer) -> None:
    async with running(settings_for(own_pg.url(), db_connect_timeout_seconds=2)) as svc:
        assert (await svc.client.post("/api/v1/trades", json=trade())).status_code == 201

        await asyncio.to_thread(own_pg.stop, "fast")
        for method, path, body in (
            ("POST", "/api/v1/trades", trade()),
            ("GET", "/api/v1/trades", None),
            ("GET", "/api/v1/diag/health", None),
        ):
            r = await svc.client.request(method, path, json=body)
            assert r.status_code == 503, f"{method} {path} with the database down -> {r.status_code} {r.text}"
            if path != "/api/v1/diag/health":
                assert r.headers.get("Retry-After"), f"{method} {path}: 503 without Retry-After"
        assert (await svc.client.get("/api/v1/diag/health")).json()["database"]["reachable"] is False
        metrics = (await svc.anonymous.get("/metrics")).text
        assert "trader_db_up 0.0" in metrics, "trader_db_up must drop to 0 while the database is down"

        await asyncio.to_thread(own_pg.start)
        health = await eventually_ok(svc.client, "/api/v1/diag/health")
        assert health.status_code == 200, f"no recovery after the database came back: {health.text}"
        assert (await svc.client.post("/api/v1/trades", json=trade())).status_code == 201
        listed = (await svc.client.get("/api/v1/trades")).json()["items"]
        assert len(listed) == 2, "rows from before and after the restart must both be there"
        assert "trader_db_up 1.0" in (await svc.anonymous.get("/metrics")).text
