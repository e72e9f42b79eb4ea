"""GET /api/v1/diag/health and GET /metrics (names as in the metric contract)."""

import httpx

from app import __version__
from tests.api.conftest import Service, running, settings_for
from tests.api.factories import trade


async def test_health_reports_database_version_and_no_providers(service: Service) -> None:
    r = await service.anonymous.get("/api/v1/diag/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["version"] == __version__, body
    assert body["database"]["reachable"] is True and body["database"]["timescale"] is False, body
    assert body["providers"] == {"polygon": False, "tradier": False, "discord": False}, body


async def test_health_flags_configured_providers_without_revealing_them(pg_url: str) -> None:
    secrets = {
        "polygon_api_key": "pk-secret-value-1",
        "TRADIER_ACCESS_TOKEN": "tradier-secret-2",
        "discord_webhook_url": "https://discord.com/api/webhooks/1/secret-3",
    }
    async with running(settings_for(pg_url, **secrets)) as svc:
        r = await svc.anonymous.get("/api/v1/diag/health")
    assert r.json()["providers"] == {"polygon": True, "tradier": True, "discord": True}, r.text
    for value in secrets.values():
        assert value not in r.text, "health must not echo a secret"


def samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


async def test_metrics_expose_the_contract_names(client: httpx.AsyncClient, service: Service) -> None:
    assert (await client.post("/api/v1/trades", json=[trade(), trade()])).status_code == 201
    assert (
        await client.post("/api/v1/logs", json={"level": "info", "source": "s", "message": "m"})
    ).status_code == 201
    await client.get("/api/v1/trades", params={"cursor": "junk"})
    m = samples((await service.anonymous.get("/metrics")).text)
    expected = {
        'trader_rows_written_total{table="trades"}': 2.0,
        'trader_rows_written_total{table="logs"}': 1.0,
        'http_requests_total{handler="/api/v1/trades",method="POST",status="2xx"}': 1.0,
        'http_requests_total{handler="/api/v1/trades",method="GET",status="4xx"}': 1.0,
        "trader_db_up": 1.0,
        "trader_db_pool_max": 10.0,
        'trader_build_info{version="' + __version__ + '"}': 1.0,
    }
    for name, value in expected.items():
        assert m.get(name) == value, f"/metrics {name} = {m.get(name)}, expected {value}"
    for name in ('trader_db_pool_connections{state="idle"}', 'trader_db_pool_connections{state="in_use"}'):
        assert name in m, f"/metrics lacks {name}"
    assert any(k.startswith("http_request_duration_seconds_bucket{") for k in m), "no latency histogram"


async def test_replays_do_not_count_as_rows_written(client: httpx.AsyncClient, service: Service) -> None:
    for _ in range(3):
        await client.post(
            "/api/v1/trades", json=trade(ts="2026-01-01T00:00:00Z"), headers={"Idempotency-Key": "k"}
        )
    m = samples((await service.anonymous.get("/metrics")).text)
    assert m.get('trader_rows_written_total{table="trades"}') == 1.0, "a replay stored nothing"
