"""`/api/v1/alerts`: alert rules the poller evaluates (ENABLE_ALERTS_POLLER; app/loops/rules.py
says when a rule fires). Create, list, disable; a disabled rule is kept for the record."""

import math
from datetime import datetime
from typing import Annotated, Literal, Self

from fastapi import APIRouter, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from app.api.deps import PoolDep
from app.api.schemas import Symbol, Text
from app.loops import rules
from app.providers.snapshot import Horizon

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertRuleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "price_cross", "symbol": "SPY", "direction": "above", "level": 600},
                {
                    "kind": "pct_move",
                    "symbol": "QQQ",
                    "direction": "below",
                    "level": -2,
                    "window_minutes": 60,
                },
                {
                    "kind": "feature_cross",
                    "symbol": "AAPL",
                    "direction": "above",
                    "level": 35,
                    "field": "horizon.realized_vol_pct",
                    "horizon": "1m",
                    "cooldown_seconds": 86400,
                    "note": "volatility regime change",
                },
            ]
        },
    )

    kind: Literal["price_cross", "pct_move", "feature_cross"] = Field(examples=["price_cross"])
    symbol: Symbol
    direction: Literal["above", "below"] = Field(description="fires when the value crosses to this side")
    level: float = Field(
        description="price (price_cross), percent move, signed (pct_move), or feature value (feature_cross)",
        examples=[500.0],
    )
    window_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60, description="pct_move only: look-back")
    field: Annotated[Text, Field(pattern=r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$", max_length=100)] | None = (
        Field(
            None,
            description="feature_cross only: dotted path in the features payload",
            examples=["change_pct"],
        )
    )
    horizon: Horizon | None = Field(None, description="only features rows of this horizon (default any)")
    cooldown_seconds: int = Field(3600, ge=0, le=7 * 24 * 3600, description="no second firing within this")
    note: Annotated[Text, Field(max_length=200)] | None = None

    @model_validator(mode="after")
    def _kind_fields(self) -> Self:
        if not math.isfinite(self.level):
            raise ValueError("level must be a finite number")
        if (self.kind == "pct_move") != (self.window_minutes is not None):
            raise ValueError("window_minutes is required for kind=pct_move and not allowed otherwise")
        if (self.kind == "feature_cross") != (self.field is not None):
            raise ValueError("field is required for kind=feature_cross and not allowed otherwise")
        return self


class AlertRuleOut(AlertRuleIn):
    model_config = ConfigDict(extra="ignore")

    id: int
    enabled: bool
    created_at: datetime
    disabled_at: datetime | None
    last_value: float | None = Field(description="the value at the last evaluation")
    last_fired_at: datetime | None
    fired_count: int


class AlertRuleList(BaseModel):
    rules: list[AlertRuleOut]


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=AlertRuleOut, summary="Create an alert rule"
)
async def create(rule: AlertRuleIn, pool: PoolDep) -> AlertRuleOut:
    return AlertRuleOut.model_validate(dict(await rules.create(pool, rule.model_dump(mode="json"))))


@router.get("", response_model=AlertRuleList, summary="List alert rules")
async def listing(
    pool: PoolDep,
    enabled: Annotated[bool | None, Query(description="only enabled (or disabled) rules")] = None,
) -> AlertRuleList:
    return AlertRuleList(
        rules=[AlertRuleOut.model_validate(dict(r)) for r in await rules.listing(pool, enabled)]
    )


@router.post(
    "/{rule_id}/disable",
    response_model=AlertRuleOut,
    summary="Disable an alert rule",
    responses={404: {"description": "no rule with this id"}},
)
async def disable(rule_id: Annotated[int, Path(ge=1, le=2**63 - 1)], pool: PoolDep) -> AlertRuleOut:
    row = await rules.disable(pool, rule_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no alert rule with id {rule_id}")
    return AlertRuleOut.model_validate(dict(row))
