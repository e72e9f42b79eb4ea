"""`data.snapshot`: per-symbol market features for a horizon, built from Polygon data.

Latest price and day change come from `PolygonClient.quotes` (a live snapshot, or end-of-day
bars on plans without snapshots); the horizon figures come from daily aggregates. Every payload
names the data it was built from (`source`), so a stored feature row says how fresh it is.
"""

import itertools
import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from app.providers.polygon import NEW_YORK, PolygonClient, Quotes


class Horizon(StrEnum):
    d1 = "1d"
    d5 = "5d"
    m1 = "1m"
    m3 = "3m"
    m6 = "6m"
    y1 = "1y"


SESSIONS = {"1d": 1, "5d": 5, "1m": 21, "3m": 63, "6m": 126, "1y": 252}
TRADING_DAYS_PER_YEAR = 252


def horizon_features(closes: list[float], sessions: int) -> dict[str, Any]:
    """Return, range and annualised realised volatility over the last `sessions` sessions."""
    window = closes[-(sessions + 1) :]
    if len(window) < 2:
        return {"bars_used": len(window)}
    returns = [math.log(b / a) for a, b in itertools.pairwise(window)]
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1) if len(returns) > 1 else 0.0
    return {
        "bars_used": len(window),
        "return_pct": round((window[-1] / window[0] - 1) * 100, 4),
        "high": max(window),
        "low": min(window),
        "realized_vol_pct": round(math.sqrt(variance * TRADING_DAYS_PER_YEAR) * 100, 4),
    }


async def build(polygon: PolygonClient, symbols: list[str], horizon: Horizon) -> tuple[Quotes, list[dict]]:
    """One payload per symbol Polygon knows; unknown symbols are listed in `Quotes.missing`."""
    sessions = SESSIONS[horizon.value]
    quotes = await polygon.quotes(symbols)
    end = datetime.now(NEW_YORK).date()
    # calendar days that surely hold `sessions` + 1 sessions (weekends, holidays)
    start = end - timedelta(days=math.ceil((sessions + 1) * 1.5) + 7)
    payloads = []
    for quote in quotes.quotes:
        bars = await polygon.daily_bars(quote.symbol, start, end)
        payloads.append(
            {
                "symbol": quote.symbol,
                "source": f"{quote.source}+aggregates",
                "note": quotes.note,
                "as_of": quote.as_of.isoformat(),
                "price": quote.price,
                "prev_close": quote.prev_close,
                "change_pct": quote.change_pct,
                "day_volume": quote.day_volume,
                "horizon": {
                    "name": horizon.value,
                    "sessions": sessions,
                    **horizon_features([b.close for b in bars], sessions),
                },
            }
        )
    return quotes, payloads
