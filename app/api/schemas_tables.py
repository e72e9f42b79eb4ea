"""Bodies of the three storage tables: what a client sends (`*In`) and what it gets back (`*Out`)."""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from app.api.schemas import Payload, Symbol, Text, Timestamp

Price = Annotated[Decimal, Field(max_digits=20, decimal_places=8)]
Tag = Annotated[Text, Field(min_length=1, max_length=64)]


class Side(StrEnum):
    buy = "buy"
    sell = "sell"
    buy_to_cover = "buy_to_cover"
    sell_short = "sell_short"


class OrderType(StrEnum):
    market = "market"
    limit = "limit"
    stop = "stop"
    stop_limit = "stop_limit"


class Level(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"
    critical = "critical"


class TradeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ts": "2026-01-02T15:04:05Z",
                    "symbol": "AAPL",
                    "side": "buy",
                    "type": "limit",
                    "qty": "10",
                    "avg_price": "187.25",
                    "pnl": None,
                    "tags": ["swing", "earnings"],
                }
            ]
        },
    )
    ts: Timestamp
    symbol: Symbol
    side: Side
    type: OrderType
    qty: Annotated[Price, Field(gt=0)]
    avg_price: Annotated[Price, Field(ge=0)]
    pnl: Price | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=32)


class TradeOut(TradeIn):
    id: int = Field(examples=[42])


class FeatureIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ts": "2026-01-02T21:00:00Z",
                    "symbol": "AAPL",
                    "horizon": "1d",
                    "payload": {"close": 187.25, "rsi_14": 61.2, "source": "polygon.aggregates"},
                }
            ]
        },
    )
    ts: Timestamp
    symbol: Symbol
    horizon: Annotated[Text, Field(min_length=1, max_length=32, examples=["1d"])]
    payload: Payload = Field(default_factory=dict)


class FeatureOut(FeatureIn):
    id: int = Field(examples=[7])


class LogIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "ts": "2026-01-02T15:04:05Z",
                    "level": "warning",
                    "source": "strategy.momentum",
                    "message": "spread too wide, skipped entry",
                    "payload": {"symbol": "AAPL", "spread_bps": 35},
                }
            ]
        },
    )
    ts: Timestamp | None = Field(None, description="defaults to the time the row is stored")
    level: Level
    source: Annotated[Text, Field(min_length=1, max_length=64)]
    message: Annotated[Text, Field(min_length=1, max_length=10_000)]
    payload: Payload = Field(default_factory=dict)


class LogOut(LogIn):
    ts: Timestamp
    id: int = Field(examples=[1001])
