"""Structured logs carry what the archive queries need (request id, route, status, latency,
symbol, provider) and never a credential: not in a field named like one, not inside a value, not in
a traceback, not from the standard library's loggers."""

import json
import logging

import pytest
import structlog

from app.logging import configure_logging
from tests.api.factories import TOKEN
from tests.fakes.polygon import API_KEY as POLYGON_KEY

SECRET = "sk-live-9f8e7d6c5b4a3210"
DB_PASSWORD = "pg-pass-0a1b2c3d"


def events(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_secrets_inside_values_are_scrubbed(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    log = structlog.get_logger("tests.redaction")
    log.info(
        "outbound",
        header=f"Authorization: Bearer {SECRET}",
        url=f"https://api.polygon.io/v2/aggs?apiKey={SECRET}&adjusted=true",
        nested={
            "calls": [f"https://x.example/cb?access_token={SECRET}"],
            "headers": {"Authorization": SECRET},
        },
        dsn=f"postgresql://trader:{DB_PASSWORD}@db:5432/trader",
        hook=f"https://discord.com/api/webhooks/123456/{SECRET}",
    )
    logging.getLogger("httpx").warning("HTTP Request: GET https://api.tradier.com/v1/q?token=%s", SECRET)
    try:
        raise RuntimeError(f"GET https://api.polygon.io/v3/x?apiKey={SECRET} failed")
    except RuntimeError:
        log.exception("provider_failed")
    out = capsys.readouterr().out
    assert SECRET not in out and DB_PASSWORD not in out, f"a secret reached the log:\n{out}"
    first, stdlib, failed = events(out)
    assert first["header"] == "Authorization: Bearer [redacted]", first
    assert first["url"] == "https://api.polygon.io/v2/aggs?apiKey=[redacted]&adjusted=true", first
    assert first["nested"] == {
        "calls": ["https://x.example/cb?access_token=[redacted]"],
        "headers": {"Authorization": "[redacted]"},
    }, first
    assert first["dsn"] == "postgresql://trader:[redacted]@db:5432/trader", first
    assert first["hook"] == "https://discord.com/api/webhooks/123456/[redacted]", first
    assert stdlib["event"].endswith("?token=[redacted]"), stdlib
    assert "apiKey=[redacted]" in failed["exception"], "the traceback is scrubbed too"


def test_plain_text_is_left_alone(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    structlog.get_logger("tests.redaction").info(
        "basic check", note="token bucket refilled", url="https://x.example/a?symbol=AAPL&limit=5"
    )
    line = events(capsys.readouterr().out)[0]
    assert (line["event"], line["note"], line["url"]) == (
        "basic check",
        "token bucket refilled",
        "https://x.example/a?symbol=AAPL&limit=5",
    ), line


async def test_a_request_logs_symbol_and_its_provider_calls(
    make_stack, capsys: pytest.CaptureFixture[str]
) -> None:
    async with make_stack() as stack:
        stack.polygon.plan = "paid"
        capsys.readouterr()
        response = await stack.client.get(
            "/api/v1/market/overview", params={"symbols": "aapl"}, headers={"X-Request-ID": "req-logs-1"}
        )
        out = capsys.readouterr().out
    assert response.status_code == 200, response.text
    logged = events(out)
    requests = [e for e in logged if e.get("event") == "request"]
    calls = [e for e in logged if e.get("event") == "provider_call"]
    assert len(requests) == 1, logged
    request = requests[0]
    assert (request["route"], request["status"], request["symbol"], request["request_id"]) == (
        "/api/v1/market/overview",
        200,
        "AAPL",
        "req-logs-1",
    ), request
    assert isinstance(request["latency_ms"], float), request
    assert calls and all(
        (c["provider"], c["status"], c["request_id"]) == ("polygon", "200", "req-logs-1") for c in calls
    ), f"each Polygon call is logged with the request it served: {calls}"
    assert POLYGON_KEY not in out and TOKEN not in out, "a credential reached the log"
