"""Factories for the loop tests: a clock the test controls, settings, a loop wired to the fakes,
features rows, and the service served on the test's own event loop (for WebSocket tests)."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI

from app.db.repo_features import FEATURES
from app.db.rows import insert_one
from app.loops.calendar import MarketSchedule
from app.loops.snapshots import SnapshotLoop
from app.metrics import Metrics
from app.providers.registry import Providers

# Wednesday before Thanksgiving 2026 (a full session), Thanksgiving (closed), Black Friday (closes 13:00 ET)
WED, THU, FRI = (
    datetime(2026, 11, 25, tzinfo=UTC),
    datetime(2026, 11, 26, tzinfo=UTC),
    datetime(2026, 11, 27, tzinfo=UTC),
)


def at(day: datetime, hh: int, mm: int = 0) -> datetime:
    return day.replace(hour=hh, minute=mm)


class ClockStopped(Exception):
    """The test's time is up: raised out of the loop's next sleep."""


class TestClock:
    """Time moves only when the code under test sleeps: each sleep jumps straight to its end and
    is recorded. A sleep past `stop_at` raises ClockStopped, which ends a loop's `run()`."""

    __test__ = False

    def __init__(self, start: datetime, stop_at: datetime | None = None) -> None:
        self.current = start
        self.stop_at = stop_at
        self.sleeps: list[datetime] = []

    def now(self) -> datetime:
        return self.current

    async def sleep_until(self, when: datetime) -> None:
        self.sleeps.append(when)
        if self.stop_at is not None and when > self.stop_at:
            raise ClockStopped(when.isoformat())
        self.current = max(self.current, when)
        await asyncio.sleep(0)

    def slept_seconds(self, since: datetime) -> list[float]:
        """Lengths of the sleeps (from `since`, each from the end of the previous one)."""
        out, mark = [], since
        for when in self.sleeps:
            out.append((when - mark).total_seconds())
            mark = when
        return out


def snapshot_loop(
    pool: asyncpg.Pool,
    providers: Providers,
    metrics: Metrics,
    clock: TestClock,
    *,
    symbols: tuple[str, ...] = ("SPY", "AAPL"),
    horizons: tuple[str, ...] = ("1d",),
    interval_minutes: int = 15,
    rate_reserve: int = 0,
    published: list | None = None,
) -> SnapshotLoop:
    return SnapshotLoop(
        pool,
        providers,
        metrics,
        symbols=list(symbols),
        horizons=list(horizons),
        schedule=MarketSchedule(interval_minutes),
        clock=clock,
        rate_reserve=rate_reserve,
        publish=(published if published is not None else []).append,
    )


async def add_feature(
    pool: asyncpg.Pool, symbol: str, payload: dict[str, Any], ts: datetime, horizon: str = "1d"
) -> int:
    row = {"ts": ts, "symbol": symbol, "horizon": horizon, "payload": payload}
    async with pool.acquire() as conn:
        return (await insert_one(conn, FEATURES, row))["id"]


async def features_by_unit(pool: asyncpg.Pool) -> dict[tuple[str, str], int]:
    rows = await pool.fetch("select symbol, horizon, count(*) as n from features group by 1, 2")
    return {(r["symbol"], r["horizon"]): r["n"] for r in rows}


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def serve_here(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on this event loop (so the test can reach the app's objects, e.g.
    publish on its stream hub), on a free loopback port; yields `ws://127.0.0.1:PORT`."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    raise RuntimeError(f"uvicorn exited during start-up: {task.exception()!r}")
                await asyncio.sleep(0.02)
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()


async def until(condition: Callable[[], bool], what: str, within: float = 20.0) -> None:
    """Wait for something another thread (a fake server) or task does; fails naming it."""
    deadline = time.monotonic() + within
    while not condition():  # the state lives in another thread: nothing to await
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.02)
