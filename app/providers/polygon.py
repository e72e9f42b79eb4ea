"""Polygon.io market data: aggregates (bars), previous close, grouped daily, and snapshots.

Free plans allow 5 requests/minute and refuse snapshot endpoints with 403 NOT_AUTHORIZED. `quotes`
then degrades to end-of-day data (grouped daily bars, previous close per missing symbol) and says
so in the answer; the 403 is remembered for POLYGON_PLAN_RECHECK_SECONDS so the small request
budget is not spent asking again. Answers are cached for POLYGON_CACHE_SECONDS; past days' grouped
bars never change and are kept for the process's life (the last few days only).
"""

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from app.providers.errors import ProviderError
from app.providers.http import ProviderHTTP

NEW_YORK = ZoneInfo("America/New_York")
GROUPED_DAYS_KEPT = 6
CACHE_ENTRIES = 1000
# Weekends plus the longest US market holiday run: how far back to look for the last sessions.
SESSION_LOOKBACK_DAYS = 6


@dataclass(frozen=True)
class Bar:
    symbol: str
    start: datetime  # bar open time, UTC
    open: float
    high: float
    low: float
    close: float
    volume: float
    vwap: float | None = None
    transactions: int | None = None


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    prev_close: float | None
    change_pct: float | None
    day_volume: float | None
    as_of: datetime
    source: str  # snapshot | grouped_daily | previous_close


@dataclass(frozen=True)
class Quotes:
    source: str  # snapshot | grouped_daily | grouped_daily+previous_close
    quotes: list[Quote]
    missing: list[str]
    note: str | None = None  # why the answer is not a live snapshot


def _bar(symbol: str, raw: dict[str, Any]) -> Bar:
    try:
        return Bar(
            symbol=symbol,
            start=datetime.fromtimestamp(raw["t"] / 1000, tz=UTC),
            open=float(raw["o"]),
            high=float(raw["h"]),
            low=float(raw["l"]),
            close=float(raw["c"]),
            volume=float(raw.get("v", 0)),
            vwap=raw.get("vw"),
            transactions=raw.get("n"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ProviderError("polygon", "http", f"malformed bar for {symbol}: {str(raw)[:200]}") from exc


def _pct(now: float, before: float | None) -> float | None:
    return None if not before else round((now - before) / before * 100, 4)


class PolygonClient:
    def __init__(self, http: ProviderHTTP, cache_seconds: float = 60.0, plan_recheck_seconds: float = 3600.0):
        self.http = http
        self.cache_seconds = cache_seconds
        self.plan_recheck_seconds = plan_recheck_seconds
        self.snapshot_denied_until = 0.0
        self._cache: dict[tuple, tuple[float, Any]] = {}
        self._grouped: dict[date, dict[str, Bar]] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self.http.request("GET", path, params=params)
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderError("polygon", "http", f"GET {path}: not JSON: {response.text[:200]!r}") from exc
        if not isinstance(body, dict) or body.get("status") not in ("OK", "DELAYED"):
            raise ProviderError("polygon", "http", f"GET {path}: unexpected reply {str(body)[:200]}")
        return body

    async def _cached(self, key: tuple, fetch: Any) -> Any:
        hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self.cache_seconds:
            return hit[1]
        value = await fetch()
        now = time.monotonic()
        if len(self._cache) >= CACHE_ENTRIES:  # keys carry dates: drop what has expired
            self._cache = {k: v for k, v in self._cache.items() if now - v[0] < self.cache_seconds}
        self._cache[key] = (now, value)
        return value

    async def aggregates(
        self, symbol: str, multiplier: int, timespan: str, start: date, end: date, *, adjusted: bool = True
    ) -> list[Bar]:
        """Bars for `symbol` from `start` to `end` (inclusive), oldest first, following `next_url`
        pages. `timespan` is minute|hour|day|week|month|quarter|year."""
        path = f"/v2/aggs/ticker/{symbol}/range/{multiplier}/{timespan}/{start.isoformat()}/{end.isoformat()}"
        params: dict[str, Any] | None = {"adjusted": str(adjusted).lower(), "sort": "asc", "limit": 50000}
        bars: list[Bar] = []
        while path:
            body = await self._get(path, params)
            bars.extend(_bar(symbol, raw) for raw in body.get("results") or [])
            path, params = self._next_page(body.get("next_url")), None
        return bars

    def _next_page(self, next_url: str | None) -> str:
        """The relative part of Polygon's `next_url`: the credential (a header) must only ever go
        to the configured Polygon host, so a cursor pointing elsewhere is refused."""
        if not next_url:
            return ""
        parts, base = urlsplit(next_url), urlsplit(str(self.http.client.base_url))
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise ProviderError("polygon", "http", f"next_url points to another host: {parts.netloc}")
        return f"{parts.path}?{parts.query}" if parts.query else parts.path

    async def daily_bars(self, symbol: str, start: date, end: date) -> list[Bar]:
        return await self._cached(
            ("day", symbol, start, end), lambda: self.aggregates(symbol, 1, "day", start, end)
        )

    async def previous_close(self, symbol: str) -> Bar | None:
        async def fetch() -> Bar | None:
            results = (await self._get(f"/v2/aggs/ticker/{symbol}/prev", {"adjusted": "true"})).get("results")
            return _bar(symbol, results[0]) if results else None

        return await self._cached(("prev", symbol), fetch)

    async def grouped_daily(self, day: date) -> dict[str, Bar]:
        """Every US stock's bar for one session; empty for weekends and holidays."""
        if day in self._grouped:
            return self._grouped[day]
        body = await self._get(
            f"/v2/aggs/grouped/locale/us/market/stocks/{day.isoformat()}", {"adjusted": "true"}
        )
        bars = {raw["T"]: _bar(raw["T"], raw) for raw in body.get("results") or [] if raw.get("T")}
        if day < datetime.now(NEW_YORK).date():  # a finished day never changes
            self._grouped[day] = bars
            for old in sorted(self._grouped)[:-GROUPED_DAYS_KEPT]:
                del self._grouped[old]
        return bars

    async def snapshot(self, symbols: list[str]) -> list[Quote]:
        body = await self._get(
            "/v2/snapshot/locale/us/markets/stocks/tickers", {"tickers": ",".join(symbols)}
        )
        quotes = []
        for t in body.get("tickers") or []:
            if not t.get("ticker"):
                continue
            day, prev, last = t.get("day") or {}, t.get("prevDay") or {}, t.get("lastTrade") or {}
            price = last.get("p") or day.get("c") or prev.get("c")
            if not price:
                continue
            updated = t.get("updated")
            quotes.append(
                Quote(
                    symbol=t["ticker"],
                    price=float(price),
                    prev_close=prev.get("c"),
                    change_pct=t.get("todaysChangePerc", _pct(float(price), prev.get("c"))),
                    day_volume=day.get("v"),
                    as_of=datetime.fromtimestamp(updated / 1e9, tz=UTC) if updated else datetime.now(UTC),
                    source="snapshot",
                )
            )
        return quotes

    async def quotes(self, symbols: list[str]) -> Quotes:
        """Latest price and change per symbol: a live snapshot when the plan allows it, otherwise
        the last two sessions' end-of-day bars."""
        if time.monotonic() >= self.snapshot_denied_until:
            try:
                quotes = await self._cached(("snapshot", tuple(symbols)), lambda: self.snapshot(symbols))
                found = {q.symbol for q in quotes}
                return Quotes("snapshot", quotes, [s for s in symbols if s not in found])
            except ProviderError as exc:
                if exc.status_code != 403:
                    raise
                self.snapshot_denied_until = time.monotonic() + self.plan_recheck_seconds
        return await self._end_of_day(symbols)

    async def _end_of_day(self, symbols: list[str]) -> Quotes:
        sessions: list[dict[str, Bar]] = []
        day = datetime.now(NEW_YORK).date()
        for _ in range(SESSION_LOOKBACK_DAYS * 2):
            day -= timedelta(days=1)
            bars = await self.grouped_daily(day)
            if bars:
                sessions.append(bars)
            if len(sessions) == 2:
                break
        latest, before = [*sessions, {}, {}][:2]
        quotes, missing, used_prev = [], [], False
        for symbol in symbols:
            bar, source = latest.get(symbol), "grouped_daily"
            if bar is None:
                bar, source, used_prev = await self.previous_close(symbol), "previous_close", True
            if bar is None:
                missing.append(symbol)
                continue
            prior = before.get(symbol)
            prev_close = prior.close if prior and prior.start < bar.start else None
            quotes.append(
                Quote(
                    symbol, bar.close, prev_close, _pct(bar.close, prev_close), bar.volume, bar.start, source
                )
            )
        return Quotes(
            "grouped_daily+previous_close" if used_prev else "grouped_daily",
            quotes,
            missing,
            note="end-of-day data: the POLYGON_API_KEY plan does not include snapshots (403 NOT_AUTHORIZED)",
        )
