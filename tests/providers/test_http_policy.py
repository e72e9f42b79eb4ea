"""The shared outbound policy against a real HTTP server (the Polygon fake): retries, Retry-After,
timeouts, the breaker, the client-side limit, and what is never retried."""

import asyncio

import pytest

from app.metrics import Metrics
from app.providers.errors import ProviderError
from app.providers.http import parse_retry_after
from tests.fakes.faults import Fault
from tests.providers.helpers import http_for, sample

PREV = "/v2/aggs/ticker/SPY/prev"


async def test_5xx_is_retried_until_success(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(503, {"status": "ERROR"}), times=2)
    http = http_for(url, metrics)
    response = await http.request("GET", PREV)
    await http.aclose()
    assert response.status_code == 200, "third attempt should have succeeded after two 503s"
    assert fake.calls(PREV) == 3, f"expected 3 attempts, fake saw {fake.calls(PREV)}"
    assert sample(metrics, "trader_provider_requests_total", provider="polygon", status="503") == 2
    assert sample(metrics, "trader_provider_requests_total", provider="polygon", status="200") == 1


async def test_429_waits_at_least_retry_after(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(429, {"status": "ERROR", "error": "exceeded"}, headers={"Retry-After": "0.3"}))
    http = http_for(url, metrics)
    await http.request("GET", PREV)
    await http.aclose()
    first, second = (t for p, _, t in fake.requests if p == PREV)
    assert second - first >= 0.3, f"retried {second - first:.3f}s after a 429 with Retry-After: 0.3"
    assert sample(metrics, "trader_provider_rate_limited_total", provider="polygon") == 1


async def test_retry_after_beyond_max_wait_fails_fast(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(429, {"status": "ERROR"}, headers={"Retry-After": "120"}))
    http = http_for(url, metrics, max_wait_seconds=1.0)
    with pytest.raises(ProviderError) as caught:
        await http.request("GET", PREV)
    await http.aclose()
    assert caught.value.status_code == 429 and caught.value.retry_after == 120
    assert fake.calls(PREV) == 1, "a Retry-After longer than HTTP_MAX_WAIT_SECONDS must not be waited out"


async def test_slow_answer_times_out_and_is_counted(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(status=0, delay=2.0), times=2)
    http = http_for(url, metrics, timeout_seconds=0.5, max_retries=1)
    with pytest.raises(ProviderError) as caught:
        await http.request("GET", PREV)
    await http.aclose()
    assert caught.value.kind == "timeout" and caught.value.maybe_delivered
    assert sample(metrics, "trader_provider_requests_total", provider="polygon", status="timeout") == 2


async def test_non_idempotent_call_is_not_repeated_after_5xx(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(502, {"status": "ERROR"}))
    http = http_for(url, metrics)
    with pytest.raises(ProviderError) as caught:
        await http.request("GET", PREV, idempotent=False)
    await http.aclose()
    assert caught.value.maybe_delivered, "a 5xx may have been acted upon"
    assert fake.calls(PREV) == 1, "a call that is not safe to repeat was sent again after a 5xx"


async def test_non_idempotent_call_is_repeated_after_429(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(429, {"status": "ERROR"}, headers={"Retry-After": "0"}))
    http = http_for(url, metrics)
    await http.request("GET", PREV, idempotent=False)
    await http.aclose()
    assert fake.calls(PREV) == 2, "a 429 was refused unprocessed, so even an order POST may be resent"


async def test_4xx_is_not_retried_and_keeps_the_body(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(404, {"status": "NOT_FOUND", "message": "no such ticker"}))
    http = http_for(url, metrics)
    with pytest.raises(ProviderError) as caught:
        await http.request("GET", PREV)
    await http.aclose()
    assert caught.value.status_code == 404 and "no such ticker" in caught.value.body
    assert fake.calls(PREV) == 1


async def test_breaker_opens_then_recovers(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(500, {"status": "ERROR"}), times=2)
    http = http_for(url, metrics, breaker_failures=2, breaker_reset_seconds=0.3, max_retries=0)
    for _ in range(2):
        with pytest.raises(ProviderError):
            await http.request("GET", PREV)
    with pytest.raises(ProviderError) as caught:
        await http.request("GET", PREV)
    assert caught.value.kind == "breaker_open"
    assert fake.calls(PREV) == 2, "an open breaker must not let calls through"
    assert sample(metrics, "trader_provider_breaker_open", provider="polygon") == 1
    assert sample(metrics, "trader_provider_requests_total", provider="polygon", status="breaker_open") == 1
    http.breaker.opened_at = (http.breaker.opened_at or 0) - 1.0  # the reset period has passed
    assert (await http.request("GET", PREV)).status_code == 200, (
        "half-open breaker should let a trial call through"
    )
    assert sample(metrics, "trader_provider_breaker_open", provider="polygon") == 0
    await http.aclose()


async def test_client_side_rate_limit_refuses_beyond_max_wait(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    http = http_for(url, metrics, rate_per_minute=2.0, max_wait_seconds=0.0)
    await http.request("GET", PREV)
    await http.request("GET", PREV)
    with pytest.raises(ProviderError) as caught:
        await http.request("GET", PREV)
    await http.aclose()
    assert caught.value.kind == "throttled" and caught.value.retry_after and caught.value.retry_after > 20
    assert fake.calls(PREV) == 2, "the limiter let a third request through within the minute"


async def test_client_side_rate_limit_waits_within_max_wait(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    http = http_for(url, metrics, rate_per_minute=300.0, max_wait_seconds=5.0)  # burst 300, then 5/s
    http.limiter.tokens = 0.0
    await http.request("GET", PREV)
    await http.aclose()
    assert fake.calls(PREV) == 1, "the call should have waited for a token, then gone through"


def test_retry_after_parses_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0, "a past date means no wait"
    assert parse_retry_after("soon") is None


async def test_waiters_beyond_the_budget_fail_at_once_instead_of_queueing(
    polygon_fake, metrics: Metrics
) -> None:
    fake, url = polygon_fake
    http = http_for(url, metrics, rate_per_minute=60.0, max_wait_seconds=1.5)  # one token a second
    http.limiter.tokens = 0.0
    first, second = await asyncio.gather(
        http.request("GET", PREV), http.request("GET", PREV), return_exceptions=True
    )
    await http.aclose()
    assert not isinstance(first, BaseException), f"the first waiter (about 1 s) should go through: {first!r}"
    assert isinstance(second, ProviderError) and second.kind == "throttled", repr(second)
    assert fake.calls(PREV) == 1
