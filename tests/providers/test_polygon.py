"""The Polygon client against the Polygon fake: typed, paginated bars; snapshots on a paid plan;
the free plan's 403 degrading to end-of-day data, remembered and cached."""

from datetime import date, timedelta

import pytest

from app.metrics import Metrics
from app.providers.errors import ProviderError
from app.providers.polygon import PolygonClient
from tests.fakes.faults import Fault
from tests.fakes.polygon import close_on, ny_today, sessions
from tests.providers.helpers import http_for


def client(url: str, metrics: Metrics) -> PolygonClient:
    return PolygonClient(http_for(url, metrics), cache_seconds=60, plan_recheck_seconds=3600)


async def test_aggregates_follow_next_url_pages(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.page_size = 3
    start, end = date(2026, 3, 2), date(2026, 3, 13)  # two full weeks: 10 sessions
    polygon = client(url, metrics)
    bars = await polygon.aggregates("AAPL", 1, "day", start, end)
    await polygon.aclose()
    assert [b.start.date() for b in bars] == sessions(start, end), "bars missing, duplicated or out of order"
    assert fake.calls("/range/1/day/") == 4, "10 bars at 3 per page take 4 requests"
    assert bars[0].close == close_on("AAPL", start) and bars[0].symbol == "AAPL"
    assert bars[0].vwap is not None and bars[0].transactions == 5000


async def test_next_url_to_another_host_is_refused(polygon_fake, metrics: Metrics) -> None:
    _, url = polygon_fake
    polygon = client(url, metrics)
    with pytest.raises(ProviderError, match="another host"):
        polygon._next_page("https://evil.example/v2/aggs?cursor=1")
    await polygon.aclose()


async def test_snapshot_on_a_paid_plan(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.plan = "paid"
    polygon = client(url, metrics)
    answer = await polygon.quotes(["SPY", "AAPL", "NOPE"])
    await polygon.aclose()
    assert answer.source == "snapshot" and answer.note is None
    assert {q.symbol for q in answer.quotes} == {"SPY", "AAPL"} and answer.missing == ["NOPE"]
    spy = next(q for q in answer.quotes if q.symbol == "SPY")
    assert spy.price == close_on("SPY", ny_today())


async def test_free_plan_degrades_to_grouped_daily_and_remembers(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    polygon = client(url, metrics)
    answer = await polygon.quotes(["SPY"])
    again = await polygon.quotes(["SPY", "QQQ"])
    await polygon.aclose()
    assert answer.source == "grouped_daily" and "NOT_AUTHORIZED" in (answer.note or "")
    last, before = sessions(ny_today() - timedelta(days=8), ny_today() - timedelta(days=1))[-2:][::-1]
    spy = answer.quotes[0]
    assert spy.price == close_on("SPY", last) and spy.prev_close == close_on("SPY", before)
    assert spy.change_pct == pytest.approx((spy.price - spy.prev_close) / spy.prev_close * 100, abs=1e-3)
    assert fake.calls("/v2/snapshot/") == 1, "the 403 must be remembered, not asked again"
    grouped_before = fake.calls("/grouped/")
    assert {q.symbol for q in again.quotes} == {"SPY", "QQQ"}
    assert fake.calls("/grouped/") == grouped_before, "past sessions' grouped bars should come from the cache"


async def test_symbol_missing_from_grouped_falls_back_to_previous_close(
    polygon_fake, metrics: Metrics
) -> None:
    fake, url = polygon_fake
    polygon = client(url, metrics)
    answer = await polygon.quotes(["SPY", "ZZZZ"])
    await polygon.aclose()
    assert answer.source == "grouped_daily+previous_close"
    assert answer.missing == ["ZZZZ"] and fake.calls("/v2/aggs/ticker/ZZZZ/prev") == 1


async def test_wrong_key_is_an_error_naming_the_status(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.api_key = "another-key"
    polygon = client(url, metrics)
    with pytest.raises(ProviderError) as caught:
        await polygon.previous_close("SPY")
    await polygon.aclose()
    assert caught.value.status_code == 401 and "Unknown API Key" in caught.value.body


async def test_garbled_reply_is_a_provider_error(polygon_fake, metrics: Metrics) -> None:
    fake, url = polygon_fake
    fake.faults.add(Fault(200, None))
    polygon = client(url, metrics)
    with pytest.raises(ProviderError, match="not JSON"):
        await polygon.previous_close("SPY")
    await polygon.aclose()
