"""Tradier brokerage: quotes, order preview and placement, and the account's order list.

Tradier can answer HTTP 200 with an `{"errors": {"error": [...]}}` body, so every reply is parsed
and such a body is an error. Its `X-Ratelimit-Available`/`X-Ratelimit-Expiry` headers pause the
shared rate limiter until the window resets. An order POST is sent with `idempotent=False`: the
shared policy never repeats it after it may have reached Tradier (see app/trading/orders.py for
how the outcome is reconciled instead).
"""

import json
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from app.providers.errors import ProviderError
from app.providers.http import ProviderHTTP
from app.providers.limits import RateLimiter


class TradierRejected(Exception):
    """Tradier refused the request (an `errors` body, 200 or 4xx); the messages say why."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass(frozen=True)
class OrderTicket:
    """An equity order as Tradier's form fields describe it."""

    symbol: str
    side: str  # buy | sell | buy_to_cover | sell_short
    quantity: Decimal
    type: str  # market | limit | stop | stop_limit
    duration: str = "day"  # day | gtc | pre | post
    price: Decimal | None = None
    stop: Decimal | None = None

    def form(self) -> dict[str, str]:
        fields = {
            "class": "equity",
            "symbol": self.symbol,
            "side": self.side,
            # fixed-point text: str(Decimal) may say "1E+1", which Tradier does not read as 10
            "quantity": f"{self.quantity:f}",
            "type": self.type,
            "duration": self.duration,
        }
        if self.price is not None:
            fields["price"] = f"{self.price:f}"
        if self.stop is not None:
            fields["stop"] = f"{self.stop:f}"
        return fields


def rate_limit_listener(limiter: RateLimiter) -> Any:
    """Pause outbound calls until Tradier's window resets once it says none are left."""

    def on_response(response: httpx.Response) -> None:
        available = response.headers.get("X-Ratelimit-Available")
        expiry = response.headers.get("X-Ratelimit-Expiry")  # epoch milliseconds
        if available is None or expiry is None:
            return
        try:
            if int(available) <= 0:
                limiter.pause(max(int(expiry) / 1000 - time.time(), 0.0))
        except ValueError:
            return

    return on_response


def _listify(value: Any) -> list:
    """Tradier collapses one-element lists to the element and empty ones to "null"."""
    if value in (None, "null", ""):
        return []
    return value if isinstance(value, list) else [value]


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        body = json.loads(text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _messages(errors: Any) -> list[str]:
    listed = _listify(errors.get("error")) if isinstance(errors, dict) else _listify(errors)
    return [str(e) for e in listed] or ["rejected"]


class TradierClient:
    def __init__(self, http: ProviderHTTP, account_id: str | None) -> None:
        self.http = http
        self.account_id = account_id

    async def aclose(self) -> None:
        await self.http.aclose()

    @staticmethod
    def _parse(response: httpx.Response) -> dict[str, Any]:
        body = _json_object(response.text)
        if body is None:
            # Tradier answered (2xx) but not as expected: it may have acted on the request, so an
            # order caller must reconcile rather than resend.
            raise ProviderError(
                "tradier", "http", f"unexpected reply: {response.text[:200]!r}", maybe_delivered=True
            )
        if "errors" in body:
            raise TradierRejected(_messages(body["errors"]))
        return body

    async def _call(
        self, method: str, path: str, *, idempotent: bool = True, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            response = await self.http.request(method, path, idempotent=idempotent, **kwargs)
        except ProviderError as exc:
            # A 4xx with an errors body is a refusal with reasons, not an outage.
            body = _json_object(exc.body) if exc.status_code and 400 <= exc.status_code < 500 else None
            if body is not None and "errors" in body and exc.status_code != 429:
                raise TradierRejected(_messages(body["errors"])) from exc
            raise
        return self._parse(response)

    async def _orders_path(self) -> str:
        return f"/v1/accounts/{await self.account()}/orders"

    async def account(self) -> str:
        """TRADIER_ACCOUNT_ID, or the token's only account (from the user profile, asked once)."""
        if self.account_id:
            return self.account_id
        profile = (await self._call("GET", "/v1/user/profile")).get("profile") or {}
        numbers = [
            a.get("account_number") for a in _listify(profile.get("account")) if a.get("account_number")
        ]
        if len(numbers) != 1:
            raise ProviderError(
                "tradier",
                "config",
                f"TRADIER_ACCOUNT_ID is not set and the token has {len(numbers)} accounts"
                + (f" ({', '.join(numbers)}): set it to one of them" if numbers else ""),
            )
        self.account_id = numbers[0]
        return self.account_id

    async def quote_price(self, symbol: str, side: str) -> Decimal | None:
        """The price a market order would likely trade at: ask for buys, bid for sells, else last."""
        body = await self._call("GET", "/v1/markets/quotes", params={"symbols": symbol})
        quotes = _listify((body.get("quotes") or {}).get("quote"))
        if not quotes:
            return None
        q = quotes[0]
        preferred = q.get("ask") if side in ("buy", "buy_to_cover") else q.get("bid")
        value = preferred or q.get("last")
        return Decimal(str(value)) if value else None

    async def preview(self, ticket: OrderTicket) -> dict[str, Any]:
        body = await self._call("POST", await self._orders_path(), data={**ticket.form(), "preview": "true"})
        return body.get("order") or {}

    async def place(self, ticket: OrderTicket, tag: str) -> dict[str, Any]:
        """Send the order once (never retried after it may have arrived); returns Tradier's
        `order` object (`id`, `status`)."""
        body = await self._call(
            "POST", await self._orders_path(), idempotent=False, data={**ticket.form(), "tag": tag}
        )
        order = body.get("order") or {}
        if "id" not in order:
            raise ProviderError(
                "tradier", "http", f"order reply without an id: {body!r}", maybe_delivered=True
            )
        return order

    async def orders(self) -> list[dict[str, Any]]:
        """The account's orders, with their tags."""
        body = await self._call("GET", await self._orders_path(), params={"includeTags": "true"})
        return _listify(
            (body.get("orders") or {}).get("order") if isinstance(body.get("orders"), dict) else None
        )

    async def find_by_tag(self, tag: str) -> dict[str, Any] | None:
        return next((o for o in await self.orders() if o.get("tag") == tag), None)
