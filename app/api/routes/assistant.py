"""`/api/v1/assistant`: the operations an assistant (or a person) may run, one envelope each.

`POST /exec` takes `{"op": ..., "args": {...}}`: `data.snapshot` (Polygon features for symbols and
a horizon, stored as `features` rows), `orders.preview` and `orders.place` (Tradier, behind the
guardrails; placing is exactly-once per `client_order_id`). `GET /actions` lists them with the
providers each needs and whether those are configured.
"""

from decimal import Decimal
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Body, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.deps import MetricsDep, PoolDep, ProvidersDep, SettingsDep
from app.providers import snapshot
from app.providers.errors import ProviderError, as_http, not_configured, retry_after_header
from app.providers.tradier import OrderTicket, TradierRejected
from app.trading import guardrails, ops
from app.trading.orders import OrderConflict, OrderNotSettled

router = APIRouter(prefix="/assistant", tags=["assistant"])
UNPROCESSABLE = status.HTTP_422_UNPROCESSABLE_CONTENT

# starts with a letter or digit: never "." or ".." inside a provider URL path
TickerSymbol = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,11}$", examples=["SPY"])]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is a 422, not silently ignored


class SnapshotArgs(Strict):
    symbols: list[TickerSymbol] = Field(min_length=1, max_length=10, examples=[["SPY", "AAPL"]])
    horizon: snapshot.Horizon = Field(
        snapshot.Horizon.m1, description="look-back for return/range/volatility: 1d 5d 1m 3m 6m 1y"
    )


class OrderArgs(Strict):
    symbol: TickerSymbol
    side: Literal["buy", "sell", "buy_to_cover", "sell_short"] = Field(examples=["buy"])
    qty: Decimal = Field(gt=0, le=1_000_000, description="whole shares", examples=["10"])
    type: Literal["market", "limit", "stop", "stop_limit"] = Field(examples=["limit"])
    duration: Literal["day", "gtc", "pre", "post"] = "day"
    price: Decimal | None = Field(None, gt=0, le=1_000_000, description="limit price (limit, stop_limit)")
    stop: Decimal | None = Field(None, gt=0, le=1_000_000, description="stop price (stop, stop_limit)")
    client_order_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="your id for this order (letters, digits, -): resubmitting it never places a second "
        "order; generated when omitted (then a retry of yours is a new order)",
        examples=["swing-spy-2026-11-25-1"],
    )

    @model_validator(mode="after")
    def _prices_match_type(self) -> Self:
        if self.qty != self.qty.to_integral_value():
            raise ValueError("qty must be a whole number of shares")
        needs_price, needs_stop = self.type in ("limit", "stop_limit"), self.type in ("stop", "stop_limit")
        if needs_price != (self.price is not None):
            raise ValueError(f"price is {'required' if needs_price else 'not allowed'} for type={self.type}")
        if needs_stop != (self.stop is not None):
            raise ValueError(f"stop is {'required' if needs_stop else 'not allowed'} for type={self.type}")
        return self

    def ticket(self) -> OrderTicket:
        return OrderTicket(
            self.symbol.upper(), self.side, self.qty, self.type, self.duration, self.price, self.stop
        )


class SnapshotOp(Strict):
    op: Literal["data.snapshot"]
    args: SnapshotArgs


class PreviewOp(Strict):
    op: Literal["orders.preview"]
    args: OrderArgs


class PlaceOp(Strict):
    op: Literal["orders.place"]
    args: OrderArgs


ExecRequest = Annotated[SnapshotOp | PreviewOp | PlaceOp, Field(discriminator="op")]
EXAMPLES = {
    "snapshot": {"value": {"op": "data.snapshot", "args": {"symbols": ["SPY", "AAPL"], "horizon": "1m"}}},
    "preview": {
        "value": {
            "op": "orders.preview",
            "args": {"symbol": "SPY", "side": "buy", "qty": "2", "type": "market"},
        }
    },
    "place": {
        "value": {
            "op": "orders.place",
            "args": {
                "symbol": "SPY",
                "side": "buy",
                "qty": "2",
                "type": "limit",
                "price": "500.10",
                "client_order_id": "spy-20261125-1",
            },
        }
    },
}


class ExecResult(BaseModel):
    op: str = Field(examples=["orders.place"])
    result: dict[str, Any] = Field(
        examples=[
            {
                "client_order_id": "spy-20261125-1",
                "status": "placed",
                "broker_order_id": 228000,
                "duplicate": False,
                "sends": 1,
                "messages": [],
                "notional": "1000.20",
            }
        ]
    )


class Action(BaseModel):
    op: str = Field(examples=["data.snapshot"])
    description: str
    providers: list[str] = Field(examples=[["polygon"]])
    available: bool = Field(description="every provider it needs is configured")


class Actions(BaseModel):
    actions: list[Action]
    providers: dict[str, bool] = Field(examples=[{"polygon": True, "tradier": False, "discord": True}])
    trading_enabled: bool = Field(description="TRADING_ENABLED: orders.place may send orders")


ACTIONS = [
    (
        "data.snapshot",
        "Polygon prices and horizon features for symbols; stored as features rows",
        ["polygon"],
    ),
    (
        "orders.preview",
        "Check an order with Tradier (preview=true) and the guardrails; places nothing",
        ["tradier"],
    ),
    (
        "orders.place",
        "Place an order with Tradier, exactly once per client_order_id, behind guardrails",
        ["tradier"],
    ),
]


@router.get("/actions", response_model=Actions, summary="Operations and configured providers")
async def actions(providers: ProvidersDep, settings: SettingsDep) -> Actions:
    configured = providers.configured()
    return Actions(
        actions=[
            Action(op=o, description=d, providers=p, available=all(configured[x] for x in p))
            for o, d, p in ACTIONS
        ],
        providers=configured,
        trading_enabled=settings.trading_enabled,
    )


def _refused(exc: guardrails.GuardrailRejected) -> HTTPException:
    return HTTPException(
        status.HTTP_403_FORBIDDEN, detail={"rule": exc.rule, "setting": exc.setting, "message": exc.message}
    )


@router.post(
    "/exec",
    response_model=ExecResult,
    summary="Run one assistant operation",
    responses={
        403: {"description": "a guardrail refused the order: `detail.rule` and `detail.setting` say which"},
        409: {"description": "client_order_id already used for a different order"},
        422: {"description": "invalid arguments, or Tradier rejected the order (its messages in detail)"},
        502: {"description": "the provider refused our credentials or request"},
        503: {"description": "provider not configured (the variable is named) or unavailable (Retry-After)"},
    },
)
async def execute(
    request: Annotated[ExecRequest, Body(openapi_examples=EXAMPLES)],
    providers: ProvidersDep,
    settings: SettingsDep,
    pool: PoolDep,
    metrics: MetricsDep,
) -> ExecResult:
    try:
        if isinstance(request, SnapshotOp):
            symbols = [sym.upper() for sym in request.args.symbols]
            result = await ops.data_snapshot(providers, pool, metrics, symbols, request.args.horizon)
        elif isinstance(request, PreviewOp):
            result = await ops.orders_preview(providers, settings, request.args.ticket())
        else:
            args = request.args
            result = await ops.orders_place(
                providers, settings, pool, metrics, args.ticket(), args.client_order_id
            )
    except ops.NotConfigured as exc:
        raise not_configured(str(exc)) from exc
    except ProviderError as exc:
        raise as_http(exc) from exc
    except guardrails.GuardrailRejected as exc:
        raise _refused(exc) from exc
    except TradierRejected as exc:
        raise HTTPException(UNPROCESSABLE, detail=f"Tradier rejected the order: {exc}") from exc
    except ops.OrderRejectedByBroker as exc:
        raise HTTPException(UNPROCESSABLE, detail={"message": str(exc), **exc.result}) from exc
    except OrderConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except OrderNotSettled as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc), headers=retry_after_header(exc.retry_after)
        ) from exc
    return ExecResult(op=request.op, result=result)
