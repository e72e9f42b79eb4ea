"""A local Polygon.io REST server: aggregates (with `next_url` pages), previous close, grouped
daily and snapshots, in the payload shapes of Polygon's public docs.

Prices are synthetic and deterministic (a symbol's close on a day depends only on both), weekdays
only. Minute aggregates cover the regular session minute by minute plus sparse pre-market and
after-hours bars (Polygon's minute bars include extended hours; a minute without trades has no bar).
`plan="free"` refuses snapshots with 403 NOT_AUTHORIZED as the free plan does. Requests are
recorded; `faults` scripts 429s, 5xx and slow answers.
"""

import hashlib
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, Response

from tests.fakes.faults import FaultQueue, apply_before

NEW_YORK = ZoneInfo("America/New_York")
API_KEY = "test-polygon-key"
UNIVERSE = ("SPY", "QQQ", "IWM", "DIA", "AAPL", "MSFT")


def close_on(symbol: str, day: date) -> float:
    seed = int(hashlib.sha256(f"{symbol}{day}".encode()).hexdigest()[:8], 16)
    base = 50 + int(hashlib.sha256(symbol.encode()).hexdigest()[:4], 16) % 400
    return round(base * (1 + (seed % 2001 - 1000) / 50_000), 2)


def _aggregate(close: float, start: datetime, volume: int, trades: int) -> dict:
    """One aggregate in Polygon's shape; `t` is the window's start in Unix milliseconds."""
    return {
        "v": volume,
        "vw": round(close * 0.999, 4),
        "o": round(close * 0.995, 2),
        "c": close,
        "h": round(close * 1.01, 2),
        "l": round(close * 0.985, 2),
        "t": int(start.timestamp() * 1000),
        "n": trades,
    }


def bar(symbol: str, day: date, with_ticker: bool = False) -> dict:
    start = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK)
    raw = _aggregate(close_on(symbol, day), start, 1_000_000 + len(symbol) * 1000, 5000)
    return {"T": symbol, **raw} if with_ticker else raw


# Regular session 09:30-16:00 every minute; extended hours 04:00-09:30 and 16:00-20:00 every 10th.
REGULAR = range(9 * 60 + 30, 16 * 60)
EXTENDED = (*range(4 * 60, 9 * 60 + 30, 10), *range(16 * 60, 20 * 60, 10))


def minutes_traded(day: date) -> list[int]:
    """Minutes of the exchange day (from midnight New York) that have a minute bar."""
    return sorted((*REGULAR, *EXTENDED)) if day.weekday() < 5 else []


def close_at(symbol: str, day: date, minute: int) -> float:
    """The close of the minute bar starting `minute` minutes after midnight New York."""
    return round(close_on(symbol, day) * (1 + ((minute * 7919) % 41 - 20) / 10_000), 2)


def minute_bar(symbol: str, day: date, minute: int) -> dict:
    start = datetime(day.year, day.month, day.day, tzinfo=NEW_YORK) + timedelta(minutes=minute)
    return _aggregate(close_at(symbol, day, minute), start, 1_000 + minute, 10 + minute % 7)


def ny_today() -> date:
    return datetime.now(NEW_YORK).date()


def sessions(start: date, end: date) -> list[date]:
    days, day = [], start
    while day <= end:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


class FakePolygon:
    def __init__(self, api_key: str = API_KEY, plan: str = "free", page_size: int = 5000) -> None:
        self.api_key = api_key
        self.plan = plan
        self.page_size = page_size
        self.requests: list[tuple[str, str, float]] = []  # (path, query, time.monotonic())
        self.faults = FaultQueue()
        self.app = self._build()

    def calls(self, path_contains: str) -> int:
        return sum(1 for path, _, _ in self.requests if path_contains in path)

    def _envelope(self, **fields: object) -> dict:
        return {
            "status": "OK" if self.plan != "free" else "DELAYED",
            "request_id": uuid.uuid4().hex,
            **fields,
        }

    def _aggregates(self, symbol: str, results: list[dict]) -> dict:
        return self._envelope(
            ticker=symbol,
            queryCount=len(results),
            resultsCount=len(results),
            adjusted=True,
            results=results,
            count=len(results),
        )

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.middleware("http")
        async def guard(request: Request, call_next) -> Response:
            self.requests.append((request.url.path, request.url.query, time.monotonic()))
            if request.headers.get("Authorization") != f"Bearer {self.api_key}":
                return JSONResponse(
                    {"status": "ERROR", "request_id": uuid.uuid4().hex, "error": "Unknown API Key"}, 401
                )
            faulted = await apply_before(self.faults.take(request.method, request.url.path))
            return faulted or await call_next(request)

        @app.get("/v2/aggs/ticker/{symbol}/range/{multiplier}/{timespan}/{start}/{end}")
        async def aggregates(
            request: Request,
            symbol: str,
            multiplier: int,
            timespan: str,
            start: date,
            end: date,
            cursor: int = 0,
        ) -> Response:
            if timespan not in ("day", "minute") or multiplier != 1:
                return JSONResponse({"status": "ERROR", "error": "fake serves 1/day and 1/minute only"}, 400)
            if timespan == "day":
                bars = [(bar, (d,)) for d in sessions(start, end)]
            else:
                bars = [(minute_bar, (d, m)) for d in sessions(start, end) for m in minutes_traded(d)]
            page = bars[cursor : cursor + self.page_size]
            results = [make(symbol, *args) for make, args in page] if symbol in UNIVERSE else []
            body = self._aggregates(symbol, results)
            if cursor + self.page_size < len(bars) and results:
                base = str(request.base_url).rstrip("/")
                body["next_url"] = f"{base}{request.url.path}?cursor={cursor + self.page_size}"
            return JSONResponse(body)

        @app.get("/v2/aggs/ticker/{symbol}/prev")
        async def previous_close(symbol: str) -> dict:
            day = sessions(ny_today() - timedelta(days=7), ny_today() - timedelta(days=1))[-1]
            results = [bar(symbol, day, with_ticker=True)] if symbol in UNIVERSE else []
            return self._aggregates(symbol, results)

        @app.get("/v2/aggs/grouped/locale/us/market/stocks/{day}")
        async def grouped(day: date) -> dict:
            results = [bar(s, day, with_ticker=True) for s in UNIVERSE] if day.weekday() < 5 else []
            return self._envelope(
                queryCount=len(results), resultsCount=len(results), adjusted=True, results=results
            )

        @app.get("/v2/snapshot/locale/us/markets/stocks/tickers")
        async def snapshot(tickers: str = "") -> Response:
            if self.plan == "free":
                return JSONResponse(
                    {
                        "status": "NOT_AUTHORIZED",
                        "request_id": uuid.uuid4().hex,
                        "message": "You are not entitled to this data. Please upgrade your plan at "
                        "https://polygon.io/pricing",
                    },
                    403,
                )
            today = ny_today()
            prev = sessions(today - timedelta(days=7), today - timedelta(days=1))[-1]
            out = []
            for symbol in [t for t in tickers.split(",") if t in UNIVERSE]:
                day, before = bar(symbol, today), bar(symbol, prev)
                change = round(day["c"] - before["c"], 4)
                out.append(
                    {
                        "ticker": symbol,
                        "todaysChange": change,
                        "todaysChangePerc": round(change / before["c"] * 100, 4),
                        "updated": int(datetime.now(UTC).timestamp() * 1e9),
                        "day": {k: day[k] for k in ("o", "h", "l", "c", "v", "vw")},
                        "prevDay": {k: before[k] for k in ("o", "h", "l", "c", "v", "vw")},
                        "min": {
                            **{k: day[k] for k in ("o", "h", "l", "c", "v", "vw")},
                            "t": day["t"],
                            "n": 12,
                        },
                        "lastTrade": {
                            "p": day["c"],
                            "s": 100,
                            "t": int(datetime.now(UTC).timestamp() * 1e9),
                            "x": 4,
                        },
                        "lastQuote": {"P": day["c"] + 0.01, "S": 2, "p": day["c"] - 0.01, "s": 3, "t": 0},
                    }
                )
            return JSONResponse(
                {"status": "OK", "request_id": uuid.uuid4().hex, "count": len(out), "tickers": out}
            )

        return app
