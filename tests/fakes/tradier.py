"""A local Tradier brokerage server: quotes, order preview/placement and the account's order list,
in the shapes of Tradier's public docs (JSON only when `Accept: application/json`, like Tradier;
one-element lists collapsed to the element, no orders as "null"; `X-Ratelimit-*` headers).

`posts_by_tag` counts order POSTs (not previews) that reached the broker, accepted or not: the
no-duplicate tests assert on it. `faults` scripts 429s, 5xx, slow answers, and answers that fail
*after* the order was accepted (`Fault(after=True)`: the order exists, the client sees a timeout
or a 502).
"""

import threading
import time
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from tests.fakes.faults import FaultQueue, apply_after, apply_before

PRICES = {"SPY": Decimal("500.00"), "AAPL": Decimal("200.00"), "MSFT": Decimal("400.00")}
ALLOWED_PER_MINUTE = 120
TOKEN = "test-tradier-token"


def errors(*messages: str, status: int = 200) -> JSONResponse:
    body_errors = {"error": list(messages) if len(messages) > 1 else messages[0]}
    return JSONResponse({"errors": body_errors}, status)


class FakeTradier:
    def __init__(self, token: str = TOKEN, account_id: str = "VA000001") -> None:
        self.token = token
        self.account_id = account_id
        self.accounts = [account_id]  # what GET /v1/user/profile lists for the token
        self.buying_power = Decimal(100_000)
        self.orders: list[dict] = []
        self.posts_by_tag: dict[str, int] = {}
        self.previews = 0
        self.rate_available: int | None = None  # force X-Ratelimit-Available (0 = exhausted)
        self.faults = FaultQueue()
        self._lock = threading.Lock()
        self._used = 0
        self.app = self._build()

    def placed(self, tag: str) -> int:
        return self.posts_by_tag.get(tag, 0)

    def _ratelimit_headers(self) -> dict[str, str]:
        self._used += 1
        available = (
            self.rate_available if self.rate_available is not None else ALLOWED_PER_MINUTE - self._used
        )
        expiry = int((time.time() + 60) * 1000)  # a rolling window: always a minute ahead
        return {
            "X-Ratelimit-Allowed": str(ALLOWED_PER_MINUTE),
            "X-Ratelimit-Used": str(self._used),
            "X-Ratelimit-Available": str(max(available, 0)),
            "X-Ratelimit-Expiry": str(expiry),
        }

    def _validate(self, form: dict) -> tuple[JSONResponse | None, Decimal]:
        required = ("class", "symbol", "side", "quantity", "type", "duration")
        missing = [f for f in required if not form.get(f)]
        if missing:
            return errors(f"Missing required parameter(s): {', '.join(missing)}", status=400), Decimal(0)
        try:
            qty = Decimal(form["quantity"])
        except InvalidOperation:
            return errors("Invalid parameter, quantity", status=400), Decimal(0)
        if qty <= 0 or qty != qty.to_integral_value():
            return errors("Invalid parameter, quantity: whole shares only", status=400), Decimal(0)
        if form["type"] in ("limit", "stop_limit") and not form.get("price"):
            return errors("Invalid parameter, price is required for limit orders", status=400), Decimal(0)
        symbol = form["symbol"]
        if symbol not in PRICES:
            return errors(f"Symbol {symbol} is not tradable"), Decimal(0)  # 200 with errors, as Tradier does
        cost = qty * Decimal(form.get("price") or PRICES[symbol])
        if form["side"] in ("buy", "buy_to_cover") and cost > self.buying_power:
            return errors("Backoffice rejected override of the order.", "DayTradingBuyingPowerExceeded"), cost
        return None, cost

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def guard(request: Request, call_next) -> Response:
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return Response("Invalid Access Token", 401, media_type="text/plain")
            if request.headers.get("Accept") != "application/json":
                return Response(
                    "<response><error>XML is the default</error></response>",
                    200,
                    media_type="application/xml",
                )
            before = await apply_before(self.faults.take(request.method, request.url.path))
            response = before or await call_next(request)
            response.headers.update(self._ratelimit_headers())
            return response

        @app.get("/v1/user/profile")
        async def profile() -> Response:
            accounts = [
                {
                    "account_number": n,
                    "classification": "individual",
                    "date_created": "2024-01-02T00:00:00.000Z",
                    "day_trader": False,
                    "option_level": 2,
                    "status": "active",
                    "type": "margin",
                    "last_update_date": "2024-01-02T00:00:00.000Z",
                }
                for n in self.accounts
            ]
            account = accounts[0] if len(accounts) == 1 else accounts
            return JSONResponse(
                {"profile": {"account": account, "id": "id-fake-trader", "name": "Fake Trader"}}
            )

        @app.get("/v1/markets/quotes")
        async def quotes(symbols: str) -> Response:
            out = [
                {
                    "symbol": s,
                    "description": s,
                    "exch": "Q",
                    "type": "stock",
                    "last": float(PRICES[s]),
                    "bid": float(PRICES[s] - Decimal("0.05")),
                    "ask": float(PRICES[s] + Decimal("0.05")),
                    "volume": 1_000_000,
                    "prevclose": float(PRICES[s]),
                }
                for s in symbols.split(",")
                if s in PRICES
            ]
            if not out:
                return JSONResponse({"quotes": {"unmatched_symbols": {"symbol": symbols}}})
            return JSONResponse({"quotes": {"quote": out[0] if len(out) == 1 else out}})

        @app.post("/v1/accounts/{account_id}/orders")
        async def place(account_id: str, request: Request) -> Response:
            if account_id != self.account_id:
                return errors(f"Account {account_id} is not authorized for this token", status=400)
            form = dict(parse_qsl((await request.body()).decode()))  # x-www-form-urlencoded
            if form.get("preview") != "true" and form.get("tag"):
                with self._lock:
                    self.posts_by_tag[form["tag"]] = self.posts_by_tag.get(form["tag"], 0) + 1
            invalid, cost = self._validate(form)
            if invalid is not None:
                return invalid
            if form.get("preview") == "true":
                self.previews += 1
                return JSONResponse(
                    {
                        "order": {
                            "status": "ok",
                            "commission": 0.0,
                            "cost": float(cost),
                            "fees": 0.0,
                            "symbol": form["symbol"],
                            "quantity": float(form["quantity"]),
                            "side": form["side"],
                            "type": form["type"],
                            "duration": form["duration"],
                            "result": True,
                            "order_cost": float(cost),
                            "margin_change": 0.0,
                            "request_date": datetime.now(UTC).isoformat(),
                            "extended_hours": False,
                            "class": "equity",
                            "strategy": "equity",
                            "day_trades": 0,
                        }
                    }
                )
            with self._lock:
                order_id = 228_000 + len(self.orders)
                tag = form.get("tag")
                self.orders.append(
                    {
                        "id": order_id,
                        "type": form["type"],
                        "symbol": form["symbol"],
                        "side": form["side"],
                        "quantity": float(form["quantity"]),
                        "status": "open",
                        "duration": form["duration"],
                        "price": float(form["price"]) if form.get("price") else None,
                        "avg_fill_price": 0.0,
                        "exec_quantity": 0.0,
                        "last_fill_price": 0.0,
                        "last_fill_quantity": 0.0,
                        "remaining_quantity": float(form["quantity"]),
                        "create_date": datetime.now(UTC).isoformat(),
                        "transaction_date": datetime.now(UTC).isoformat(),
                        "class": "equity",
                        "tag": tag,
                    }
                )
            normal = JSONResponse({"order": {"id": order_id, "status": "ok", "partner_id": "fake-partner"}})
            return await apply_after(self.faults.take("POST", request.url.path, after=True), normal)

        @app.get("/v1/accounts/{account_id}/orders")
        async def orders(account_id: str, includeTags: str = "false") -> Response:
            if account_id != self.account_id:
                return errors(f"Account {account_id} is not authorized for this token", status=400)
            listed = [
                o if includeTags == "true" else {k: v for k, v in o.items() if k != "tag"}
                for o in self.orders
            ]
            if not listed:
                return JSONResponse({"orders": "null"})
            return JSONResponse({"orders": {"order": listed[0] if len(listed) == 1 else listed}})

        return app
