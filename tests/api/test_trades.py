"""POST/GET /api/v1/trades against a real Postgres (plain Postgres path: no TimescaleDB here)."""

import asyncpg
import httpx

from tests.api.conftest import Service
from tests.api.factories import at, trade


async def test_create_one_trade_returns_the_stored_row(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/trades", json=trade(symbol="msft", qty="2.5", tags=["a", "b"]))
    assert r.status_code == 201, r.text
    body = r.json()
    assert isinstance(body["id"], int), f"id missing from {body}"
    assert (body["symbol"], body["qty"], body["tags"]) == ("MSFT", "2.5", ["a", "b"]), body


async def test_batch_is_stored_with_ids_in_request_order(service: Service, pg_url: str) -> None:
    batch = [trade(symbol=f"S{i}") for i in range(50)]
    r = await service.client.post("/api/v1/trades", json=batch)
    assert r.status_code == 201, r.text
    assert r.json()["count"] == 50, r.text
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch("select id, symbol from trades order by id")
    finally:
        await conn.close()
    assert [row["id"] for row in rows] == r.json()["ids"], "returned ids must be the stored ids, in order"
    assert [row["symbol"] for row in rows] == [f"S{i}" for i in range(50)], "rows stored out of order"


async def test_a_batch_with_one_invalid_row_stores_nothing(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/trades", json=[trade(), trade(qty="0")])
    assert r.status_code == 422, r.text
    loc = r.json()["detail"][0]["loc"]
    assert loc[-2:] == [1, "qty"], f"422 must name the row and the field: {r.json()}"
    listed = (await client.get("/api/v1/trades")).json()
    assert listed["items"] == [], "nothing may be stored from a rejected batch"


async def test_empty_and_oversized_batches_are_refused(client: httpx.AsyncClient) -> None:
    for batch in ([], [trade()] * 1001):
        r = await client.post("/api/v1/trades", json=batch)
        assert r.status_code == 422, f"batch of {len(batch)} accepted: {r.text[:200]}"


async def test_invalid_fields_are_named_in_the_422(client: httpx.AsyncClient) -> None:
    cases = {
        "ts": trade(ts="2026-01-05T14:30:00"),  # no timezone
        "side": trade(side="hold"),
        "symbol": trade(symbol="AA\u0000PL"),
        "avg_price": trade(avg_price="-1"),
        "tags": trade(tags=["ok", "nul\u0000"]),
    }
    for field, body in cases.items():
        r = await client.post("/api/v1/trades", json=body)
        assert r.status_code == 422, f"{field}: {r.status_code} {r.text}"
        locs = [err["loc"] for err in r.json()["detail"]]
        assert any(field in loc for loc in locs), f"422 for a bad {field} names {locs}"


async def test_list_is_newest_first_and_pages_cover_every_row_once(client: httpx.AsyncClient) -> None:
    # several rows share a timestamp: (ts, id) must still give a stable, gap-free order
    batch = [trade(ts=at(i // 3)) for i in range(25)]
    assert (await client.post("/api/v1/trades", json=batch)).status_code == 201
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 7} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/api/v1/trades", params=params)).json()
        seen += [(item["ts"], item["id"]) for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 4, f"25 rows at 7 per page is 4 pages, got {pages}"
    assert len(seen) == len(set(seen)) == 25, "pages repeated or skipped rows"
    assert seen == sorted(seen, reverse=True), "not ordered by (ts, id) descending"


async def test_filters_by_symbol_and_time_range(client: httpx.AsyncClient) -> None:
    rows = [trade(symbol="AAPL", ts=at(m)) for m in range(0, 10)] + [trade(symbol="TSLA", ts=at(5))]
    assert (await client.post("/api/v1/trades", json=rows)).status_code == 201
    page = (
        await client.get("/api/v1/trades", params={"symbol": "aapl", "since": at(3), "until": at(6)})
    ).json()
    got = [(i["symbol"], i["ts"]) for i in page["items"]]
    assert got == [("AAPL", at(5)), ("AAPL", at(4)), ("AAPL", at(3))], (
        f"since inclusive, until exclusive: {got}"
    )


async def test_a_forged_cursor_is_a_422_naming_cursor(client: httpx.AsyncClient) -> None:
    for cursor in ("not-base64!", "WzFd", "WyIyMDI2LTAxLTAxIiwgMV0="):  # junk, [1], naive timestamp
        r = await client.get("/api/v1/trades", params={"cursor": cursor})
        assert r.status_code == 422, f"cursor {cursor!r}: {r.status_code}"
        assert r.json()["detail"][0]["loc"] == ["query", "cursor"], r.text


async def test_unknown_query_parameters_are_refused(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/trades", params={"symbl": "AAPL"})
    assert r.status_code == 422, "a misspelt filter must not silently list everything"
