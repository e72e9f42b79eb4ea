"""The Tradier client against the Tradier fake: JSON replies, 200-with-errors, rate-limit headers,
order lists in all their shapes, and an order POST that is never repeated blindly."""

import time
from decimal import Decimal

import pytest

from app.metrics import Metrics
from app.providers.errors import ProviderError
from app.providers.tradier import OrderTicket, TradierClient, TradierRejected
from tests.fakes.faults import Fault
from tests.providers.helpers import tradier_for

BUY_SPY = OrderTicket("SPY", "buy", Decimal(2), "market")


def client(url: str, metrics: Metrics, **policy: object) -> TradierClient:
    return tradier_for(url, metrics, **policy)


async def test_preview_does_not_place(tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    tradier = client(url, metrics)
    preview = await tradier.preview(BUY_SPY)
    await tradier.aclose()
    assert preview["result"] is True and preview["cost"] == 1000.0
    assert fake.previews == 1 and fake.orders == [], "a preview must not create an order"


async def test_place_sends_the_tag_and_returns_the_id(tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    tradier = client(url, metrics)
    order = await tradier.place(BUY_SPY, "coid-1")
    found = await tradier.find_by_tag("coid-1")
    await tradier.aclose()
    assert order["id"] == fake.orders[0]["id"] and fake.placed("coid-1") == 1
    assert found is not None and found["id"] == order["id"], (
        "single order (collapsed to an object) not listed"
    )


async def test_200_with_errors_body_is_a_rejection(tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    fake.buying_power = Decimal(10)
    tradier = client(url, metrics)
    with pytest.raises(TradierRejected) as caught:
        await tradier.place(BUY_SPY, "coid-2")
    await tradier.aclose()
    assert caught.value.messages == [
        "Backoffice rejected override of the order.",
        "DayTradingBuyingPowerExceeded",
    ]


async def test_400_with_errors_body_is_a_rejection(tradier_fake, metrics: Metrics) -> None:
    _, url = tradier_fake
    tradier = client(url, metrics)
    with pytest.raises(TradierRejected, match="whole shares"):
        await tradier.place(OrderTicket("SPY", "buy", Decimal("1.5"), "market"), "coid-3")
    await tradier.aclose()


async def test_no_orders_is_an_empty_list(tradier_fake, metrics: Metrics) -> None:
    _, url = tradier_fake
    tradier = client(url, metrics)
    assert await tradier.orders() == [], 'Tradier answers {"orders": "null"} when there are none'
    await tradier.aclose()


async def test_quote_price_uses_ask_for_buys_and_bid_for_sells(tradier_fake, metrics: Metrics) -> None:
    _, url = tradier_fake
    tradier = client(url, metrics)
    assert await tradier.quote_price("SPY", "buy") == Decimal("500.05")
    assert await tradier.quote_price("SPY", "sell") == Decimal("499.95")
    assert await tradier.quote_price("NOPE", "buy") is None
    await tradier.aclose()


async def test_exhausted_rate_limit_headers_pause_the_client(tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    fake.rate_available = 0
    tradier = client(url, metrics)
    await tradier.orders()
    await tradier.aclose()
    assert tradier.http.limiter.paused_until > time.monotonic(), (
        "X-Ratelimit-Available: 0 did not pause calls"
    )


async def test_order_post_that_timed_out_is_not_resent(tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(status=0, delay=2.0, after=True))  # accepted, then the answer is too slow
    tradier = client(url, metrics, timeout_seconds=0.5)
    with pytest.raises(ProviderError) as caught:
        await tradier.place(BUY_SPY, "coid-4")
    await tradier.aclose()
    assert caught.value.kind == "timeout" and caught.value.maybe_delivered
    assert fake.placed("coid-4") == 1, "the policy resent an order POST after a timeout"


async def test_order_post_refused_with_429_is_resent(tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(429, {"errors": {"error": "Rate limit exceeded"}}, headers={"Retry-After": "0"}))
    tradier = client(url, metrics)
    await tradier.place(BUY_SPY, "coid-5")
    await tradier.aclose()
    assert fake.placed("coid-5") == 1
