"""Settings-driven limits every order passes before it reaches the broker.

Rules, in the order they are checked: trading_disabled (TRADING_ENABLED), allowlist
(SYMBOL_ALLOWLIST), max_qty (MAX_ORDER_QTY), max_notional (MAX_ORDER_NOTIONAL). A refusal names
the rule and the setting that would allow the order; previews skip only trading_disabled (a preview
places nothing), so they tell you in advance whether the other rules would pass.
"""

from decimal import Decimal

from app.core.config import Settings
from app.providers.tradier import OrderTicket, TradierClient


class GuardrailRejected(Exception):
    def __init__(self, rule: str, setting: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.setting = setting
        self.message = message


def check_static(ticket: OrderTicket, settings: Settings, *, placing: bool) -> None:
    if placing and not settings.trading_enabled:
        raise GuardrailRejected(
            "trading_disabled",
            "TRADING_ENABLED",
            "trading is disabled: set TRADING_ENABLED=true to place orders (orders.preview works without it)",
        )
    if settings.symbol_allowlist and ticket.symbol not in settings.symbol_allowlist:
        raise GuardrailRejected(
            "allowlist",
            "SYMBOL_ALLOWLIST",
            f"{ticket.symbol} is not in SYMBOL_ALLOWLIST ({','.join(settings.symbol_allowlist)}): "
            "add it there to trade it",
        )
    if ticket.quantity > settings.max_order_qty:
        raise GuardrailRejected(
            "max_qty",
            "MAX_ORDER_QTY",
            f"quantity {ticket.quantity} exceeds MAX_ORDER_QTY={settings.max_order_qty}: "
            "lower the quantity or raise MAX_ORDER_QTY",
        )


async def reference_price(ticket: OrderTicket, tradier: TradierClient) -> Decimal | None:
    """What one share is expected to cost: the limit (or stop) price, else Tradier's quote."""
    if ticket.type in ("limit", "stop_limit"):
        return ticket.price
    if ticket.type == "stop":
        return ticket.stop
    return await tradier.quote_price(ticket.symbol, ticket.side)


def check_notional(ticket: OrderTicket, settings: Settings, price: Decimal | None) -> Decimal:
    if price is None:
        raise GuardrailRejected(
            "max_notional",
            "MAX_ORDER_NOTIONAL",
            f"no price for {ticket.symbol} to check MAX_ORDER_NOTIONAL against: "
            "send a limit order (type=limit with price) or retry when Tradier quotes it",
        )
    notional = ticket.quantity * price
    if notional > settings.max_order_notional:
        raise GuardrailRejected(
            "max_notional",
            "MAX_ORDER_NOTIONAL",
            f"notional {notional:.2f} ({ticket.quantity} x {price}) exceeds MAX_ORDER_NOTIONAL="
            f"{settings.max_order_notional}: lower the quantity or raise MAX_ORDER_NOTIONAL",
        )
    return notional


async def enforce(
    ticket: OrderTicket, settings: Settings, tradier: TradierClient, *, placing: bool
) -> Decimal:
    """Raise GuardrailRejected naming the first rule the order breaks; returns its notional."""
    check_static(ticket, settings, placing=placing)
    return check_notional(ticket, settings, await reference_price(ticket, tradier))
