"""One JSON log line per request with request id, route, status and latency, never the token."""

import json

import pytest

from tests.api.conftest import Service
from tests.api.factories import TOKEN, trade


def request_events(out: str) -> list[dict]:
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [e for e in events if e.get("event") == "request"]


async def test_each_request_logs_one_json_line(capsys: pytest.CaptureFixture[str], service: Service) -> None:
    capsys.readouterr()
    r = await service.client.post("/api/v1/trades", json=trade(), headers={"X-Request-ID": "req-abc.1"})
    events = request_events(capsys.readouterr().out)
    assert len(events) == 1, f"expected one request event, got {events}"
    e = events[0]
    assert (e["request_id"], e["route"], e["method"], e["status"]) == (
        "req-abc.1",
        "/api/v1/trades",
        "POST",
        201,
    ), e
    assert isinstance(e["latency_ms"], float) and e["latency_ms"] >= 0, e
    assert r.headers["X-Request-ID"] == "req-abc.1", "the request id must come back to the caller"


async def test_an_unsafe_request_id_is_replaced(capsys: pytest.CaptureFixture[str], service: Service) -> None:
    r = await service.client.get("/api/v1/trades", headers={"X-Request-ID": "bad id\twith spaces"})
    assert r.headers["X-Request-ID"] != "bad id\twith spaces" and len(r.headers["X-Request-ID"]) == 32


async def test_the_token_never_reaches_the_log(capsys: pytest.CaptureFixture[str], service: Service) -> None:
    await service.client.get("/api/v1/trades")
    await service.anonymous.get("/api/v1/trades", headers={"Authorization": f"Bearer {TOKEN}-wrong"})
    out = capsys.readouterr().out
    assert out.count('"event": "request"') == 2, out
    assert TOKEN not in out, "the bearer token was logged"
