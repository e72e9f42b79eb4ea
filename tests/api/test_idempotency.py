"""Idempotency-Key: a repeated create stores nothing twice, also when the repeats race."""

import asyncio

import asyncpg
import httpx

from tests.api.factories import trade


async def count(pg_url: str, table: str) -> int:
    conn = await asyncpg.connect(pg_url)
    try:
        return await conn.fetchval(f"select count(*) from {table}")
    finally:
        await conn.close()


async def test_a_retry_with_the_same_key_returns_the_first_answer(
    client: httpx.AsyncClient, pg_url: str
) -> None:
    body, key = trade(), {"Idempotency-Key": "order-1"}
    first = await client.post("/api/v1/trades", json=body, headers=key)
    again = await client.post("/api/v1/trades", json=body, headers=key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json() == first.json(), "a replay must return the stored answer"
    assert again.headers.get("Idempotency-Replayed") == "true", dict(again.headers)
    assert "Idempotency-Replayed" not in first.headers, "the first answer is not a replay"
    assert await count(pg_url, "trades") == 1, "the retry stored a second row"


async def test_a_key_reused_for_another_body_is_refused(client: httpx.AsyncClient, pg_url: str) -> None:
    key = {"Idempotency-Key": "order-2"}
    assert (await client.post("/api/v1/trades", json=trade(qty="1"), headers=key)).status_code == 201
    r = await client.post("/api/v1/trades", json=trade(qty="2"), headers=key)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"], f"must name the header: {r.text}"
    assert await count(pg_url, "trades") == 1


async def test_the_same_key_on_another_route_is_independent(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": "shared"}
    a = await client.post("/api/v1/logs", json={"level": "info", "source": "s", "message": "m"}, headers=key)
    b = await client.post(
        "/api/v1/features", json={"ts": "2026-01-01T00:00:00Z", "symbol": "X", "horizon": "1d"}, headers=key
    )
    assert (a.status_code, b.status_code) == (201, 201), (a.text, b.text)


async def test_concurrent_duplicates_store_one_batch(client: httpx.AsyncClient, pg_url: str) -> None:
    batch, key = [trade() for _ in range(20)], {"Idempotency-Key": "batch-7"}
    answers = await asyncio.gather(
        *(client.post("/api/v1/trades", json=batch, headers=key) for _ in range(8))
    )
    assert {r.status_code for r in answers} == {201}, [r.text for r in answers]
    assert all(r.json() == answers[0].json() for r in answers), "every duplicate must get the same ids"
    assert sum(r.headers.get("Idempotency-Replayed") == "true" for r in answers) == 7, (
        "one original, 7 replays"
    )
    assert await count(pg_url, "trades") == 20, "racing duplicates stored the batch more than once"


async def test_without_a_key_every_post_stores(client: httpx.AsyncClient, pg_url: str) -> None:
    body = trade()
    for _ in range(2):
        assert (await client.post("/api/v1/trades", json=body)).status_code == 201
    assert await count(pg_url, "trades") == 2, "no key means no deduplication"


async def test_a_malformed_key_is_a_422_naming_the_header(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/trades", json=trade(), headers={"Idempotency-Key": "x" * 300})
    assert r.status_code == 422 and "Idempotency-Key" in r.text, r.text


async def test_keys_older_than_the_retention_are_pruned(client: httpx.AsyncClient, pg_url: str) -> None:
    from app.db.idempotency import prune

    for key in ("old", "new"):
        await client.post(
            "/api/v1/logs",
            json={"level": "info", "source": "s", "message": key},
            headers={"Idempotency-Key": key},
        )
    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "update idempotency_keys set created_at = now() - interval '8 days' where key = 'old'"
        )
        assert await prune(conn, 7) == 1, "exactly the 8-day-old key must go"
        left = [r["key"] for r in await conn.fetch("select key from idempotency_keys")]
    finally:
        await conn.close()
    assert left == ["new"], left
