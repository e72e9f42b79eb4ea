"""Guardrails: each rule refuses with its name and the setting to change; previews skip only
the trading switch. Market orders are priced from the Tradier fake's quote."""

from decimal import Decimal

import pytest

from app.metrics import Metrics
from app.providers.tradier import OrderTicket, TradierClient
from app.trading.guardrails import GuardrailRejected, enforce
from tests.providers.helpers import fast_settings, tradier_for


@pytest.fixture
async def tradier(tradier_fake, metrics: Metrics):
    _, url = tradier_fake
    client = tradier_for(url, metrics)
    yield client
    await client.aclose()


async def rule_for(
    ticket: OrderTicket, tradier: TradierClient, *, placing: bool = True, **settings: object
) -> str:
    with pytest.raises(GuardrailRejected) as caught:
        await enforce(ticket, fast_settings(**settings), tradier, placing=placing)
    assert caught.value.setting in caught.value.message, "the refusal must name the setting to change"
    return caught.value.rule


async def test_trading_is_disabled_by_default(tradier) -> None:
    assert await rule_for(OrderTicket("SPY", "buy", Decimal(1), "market"), tradier) == "trading_disabled"


async def test_preview_skips_only_the_trading_switch(tradier) -> None:
    notional = await enforce(
        OrderTicket("SPY", "buy", Decimal(1), "market"), fast_settings(), tradier, placing=False
    )
    assert notional == Decimal("500.05"), "a market buy is priced at the ask"
    big = OrderTicket("SPY", "buy", Decimal(500), "market")
    assert await rule_for(big, tradier, placing=False) == "max_qty"


async def test_symbol_outside_the_allowlist(tradier) -> None:
    ticket = OrderTicket("AAPL", "buy", Decimal(1), "market")
    assert await rule_for(ticket, tradier, trading_enabled=True, symbol_allowlist="SPY,QQQ") == "allowlist"


async def test_quantity_over_the_maximum(tradier) -> None:
    ticket = OrderTicket("SPY", "buy", Decimal(11), "market")
    assert await rule_for(ticket, tradier, trading_enabled=True, max_order_qty=10) == "max_qty"


async def test_limit_order_notional_uses_its_price(tradier) -> None:
    ticket = OrderTicket("SPY", "buy", Decimal(10), "limit", price=Decimal("101"))
    assert await rule_for(ticket, tradier, trading_enabled=True, max_order_notional=1000) == "max_notional"


async def test_market_order_notional_uses_the_quote(tradier) -> None:
    ticket = OrderTicket("MSFT", "sell", Decimal(3), "market")  # 3 x bid 399.95
    assert await rule_for(ticket, tradier, trading_enabled=True, max_order_notional=1000) == "max_notional"
    settings = fast_settings(trading_enabled=True, max_order_notional=1200)
    assert await enforce(ticket, settings, tradier, placing=True) == Decimal("1199.85")


async def test_market_order_without_a_quote_is_refused(tradier) -> None:
    assert await rule_for(
        OrderTicket("NOPE", "buy", Decimal(1), "market"), tradier, trading_enabled=True
    ) == ("max_notional")
