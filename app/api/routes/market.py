"""`/api/v1/market/overview`: latest prices and day change for a watch list, from Polygon."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from app.api.deps import ProvidersDep, SettingsDep
from app.providers.errors import ProviderError, as_http, not_configured

router = APIRouter(prefix="/market", tags=["market"])

# a symbol starts with a letter or digit, so none can be "." or ".." inside a provider URL path
SYMBOLS_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,11}(,[A-Za-z0-9][A-Za-z0-9.\-]{0,11}){0,24}$"


class OverviewQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt parameter is a 422, not silently ignored

    symbols: str | None = Field(
        None,
        pattern=SYMBOLS_PATTERN,
        description="comma-separated symbols (up to 25); default MARKET_OVERVIEW_SYMBOLS",
        examples=["SPY,QQQ,AAPL"],
    )


class QuoteOut(BaseModel):
    symbol: str = Field(examples=["SPY"])
    price: float = Field(description="last trade (snapshot) or last session close", examples=[512.34])
    prev_close: float | None = Field(examples=[508.9])
    change_pct: float | None = Field(examples=[0.676])
    day_volume: float | None = Field(examples=[61234567])
    as_of: datetime = Field(description="time of the data, UTC")
    source: str = Field(description="snapshot, grouped_daily or previous_close", examples=["grouped_daily"])


class Overview(BaseModel):
    source: str = Field(
        description="data the answer is built from: `snapshot` (live), or `grouped_daily` / "
        "`grouped_daily+previous_close` (end of day, on Polygon plans without snapshots)",
        examples=["grouped_daily"],
    )
    note: str | None = Field(
        description="why the data is not live, when it is not",
        examples=[
            "end-of-day data: the POLYGON_API_KEY plan does not include snapshots (403 NOT_AUTHORIZED)"
        ],
    )
    quotes: list[QuoteOut]
    missing: list[str] = Field(description="requested symbols Polygon has no data for", examples=[["XYZQ"]])


@router.get(
    "/overview",
    response_model=Overview,
    summary="Market overview for a watch list",
    responses={
        502: {"description": "Polygon refused the request (for example a wrong POLYGON_API_KEY)"},
        503: {"description": "POLYGON_API_KEY is not set, or Polygon is unavailable (see Retry-After)"},
    },
)
async def overview(
    providers: ProvidersDep, settings: SettingsDep, query: Annotated[OverviewQuery, Query()]
) -> Overview:
    if providers.polygon is None:
        raise not_configured("POLYGON_API_KEY")
    given = query.symbols.upper().split(",") if query.symbols else None
    wanted = given or settings.market_overview_symbols
    try:
        answer = await providers.polygon.quotes(list(dict.fromkeys(wanted)))
    except ProviderError as exc:
        raise as_http(exc) from exc
    return Overview(
        source=answer.source,
        note=answer.note,
        quotes=[QuoteOut(**vars(q)) for q in answer.quotes],
        missing=answer.missing,
    )
