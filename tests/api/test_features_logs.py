"""POST/GET /api/v1/features and /api/v1/logs: JSON payloads, defaults and their own filters."""

import httpx

from tests.api.factories import at, feature, log_record


async def test_feature_payload_round_trips(client: httpx.AsyncClient) -> None:
    payload = {"close": 187.25, "nested": {"list": [1, "two", None, True]}, "unicode": "€ ✓"}
    r = await client.post("/api/v1/features", json=feature(payload=payload))
    assert r.status_code == 201, r.text
    listed = (await client.get("/api/v1/features")).json()["items"]
    assert listed[0]["payload"] == payload, f"payload changed in storage: {listed[0]['payload']}"


async def test_features_filter_by_symbol_horizon_and_range(client: httpx.AsyncClient) -> None:
    rows = [
        feature(symbol="AAPL", horizon="1d", ts=at(1)),
        feature(symbol="AAPL", horizon="5d", ts=at(2)),
        feature(symbol="SPY", horizon="1d", ts=at(3)),
        feature(symbol="AAPL", horizon="1d", ts=at(9)),
    ]
    assert (await client.post("/api/v1/features", json=rows)).status_code == 201
    params = {"symbol": "AAPL", "horizon": "1d", "until": at(5)}
    items = (await client.get("/api/v1/features", params=params)).json()["items"]
    assert [(i["symbol"], i["horizon"], i["ts"]) for i in items] == [("AAPL", "1d", at(1))], items


async def test_payload_must_be_json_postgres_can_store(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/features", json=feature(payload={"bad": "nul\u0000"}))
    assert r.status_code == 422, f"NUL inside JSONB must be a 422, got {r.status_code}"
    big = {"blob": "x" * 70_000}
    r = await client.post("/api/v1/features", json=feature(payload=big))
    assert r.status_code == 422 and "payload" in r.text, f"oversized payload: {r.status_code}"


async def test_log_without_ts_gets_the_storage_time_single_and_batch(client: httpx.AsyncClient) -> None:
    one = await client.post("/api/v1/logs", json=log_record())
    batch = await client.post("/api/v1/logs", json=[log_record(), log_record(ts=at(0))])
    assert one.status_code == batch.status_code == 201, (one.text, batch.text)
    items = (await client.get("/api/v1/logs")).json()["items"]
    assert len(items) == 3 and all(i["ts"] for i in items), items
    assert items[-1]["ts"] == at(0), "an explicit ts must be kept"


async def test_logs_filter_by_source_and_level(client: httpx.AsyncClient) -> None:
    rows = [
        log_record(source="broker", level="error", message="order rejected"),
        log_record(source="broker", level="info", message="order placed"),
        log_record(source="polygon", level="error", message="429"),
    ]
    assert (await client.post("/api/v1/logs", json=rows)).status_code == 201
    items = (await client.get("/api/v1/logs", params={"source": "broker", "level": "error"})).json()["items"]
    assert [i["message"] for i in items] == ["order rejected"], items
    r = await client.get("/api/v1/logs", params={"level": "fatal"})
    assert r.status_code == 422 and "level" in r.text, "an unknown level must be refused, naming `level`"
