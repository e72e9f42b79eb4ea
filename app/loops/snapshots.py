"""The watchlist snapshot loop (ENABLE_BACKGROUND_LOOPS): at every scheduled cycle (see
calendar.py) each WATCHLIST_SYMBOLS x WATCHLIST_HORIZONS pair is stored as `features` rows by the
same code as the `data.snapshot` operation (`app.trading.ops.data_snapshot`).

- Interactive calls win: every Polygon request the loop makes is background priority (see
  `background_priority` in app/providers/limits.py): it takes a token only while more than
  LOOP_RATE_RESERVE are left, so a person's request never queues behind the loop.
- A failing provider is backed off (growing waits, the provider's Retry-After honoured); after
  GIVE_UP_AFTER failures in a row the rest of the cycle is dropped, the next cycle tries again.
- One cycle at a time, across processes too (advisory lock); a cycle interrupted by a restart is
  resumed, skipping the units it had stored (their rows and their record commit together). One
  that can no longer be resumed (the restart came more than an interval late) is marked
  `abandoned`, at start-up and before each cycle, so no cycle stays `running` for ever.
"""

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from app.loops import cycles
from app.loops.calendar import MarketSchedule
from app.loops.clock import Clock, sleep_for
from app.metrics import Metrics
from app.providers.errors import ProviderError
from app.providers.limits import background_priority
from app.providers.registry import Providers
from app.providers.snapshot import Horizon
from app.trading import ops

log = structlog.get_logger(__name__)

LOOP = "snapshots"
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 120.0
GIVE_UP_AFTER = 3

Publish = Callable[[dict[str, Any]], None]


class _UnitWriter:
    """Stands in for the pool in `ops.data_snapshot`, so that the features rows it inserts and the
    cycle's record of the unit commit in one transaction (its own becomes a savepoint)."""

    def __init__(self, pool: asyncpg.Pool, record: Callable[[asyncpg.Connection], Coroutine[Any, Any, None]]):
        self._pool = pool
        self._record = record

    @contextlib.asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn
            await self._record(conn)


class SnapshotLoop:
    def __init__(
        self,
        pool: asyncpg.Pool,
        providers: Providers,
        metrics: Metrics,
        *,
        symbols: list[str],
        horizons: list[str],
        schedule: MarketSchedule,
        clock: Clock,
        rate_reserve: int,
        publish: Publish,
    ) -> None:
        if providers.polygon is None:
            raise ValueError("the snapshot loop needs POLYGON_API_KEY")
        self.pool = pool
        self.providers = providers
        self.metrics = metrics
        self.units = [(s, Horizon(h)) for s in dict.fromkeys(symbols) for h in dict.fromkeys(horizons)]
        self.schedule = schedule
        self.clock = clock
        self.rate_reserve = rate_reserve
        self.publish = publish
        # Exported at 0 from the start: increase() and the dashboard see the loop before its
        # first cycle (nights, weekends), not "no data".
        for outcome in ("done", "failed", "skipped", "abandoned"):
            metrics.loop_cycles.labels(LOOP, outcome)
        for outcome in ("done", "failed"):
            metrics.loop_symbols.labels(LOOP, outcome)
        metrics.loop_cycle_duration.labels(LOOP)

    async def run(self) -> None:
        """Forever: run the cycle that is due (a restart resumes one less than an interval late),
        then sleep until the next scheduled one. A cycle that overran its successors skips them."""
        await self.schedule.ready(self.clock.now())
        cycle = self.schedule.due(self.clock.now())
        # Outside market hours the next cycle is hours away: close what a crash left open now.
        async with cycles.exclusive(self.pool, LOOP) as mine:
            if mine:
                await self._abandon_before(cycle or self.clock.now())
        while True:
            if cycle is not None:
                try:
                    await self.run_cycle(cycle)
                except Exception as exc:  # the database, most likely: the loop must outlive a cycle
                    self.metrics.loop_cycles.labels(LOOP, "failed").inc()
                    log.error("loop_cycle_error", loop=LOOP, cycle=cycle.isoformat(), error=repr(exc))
            await self.schedule.ready(self.clock.now())
            cycle = self.schedule.next_after(max(self.clock.now(), cycle) if cycle else self.clock.now())
            self.metrics.loop_next_cycle.labels(LOOP).set(cycle.timestamp())
            await self.clock.sleep_until(cycle)

    async def run_cycle(self, scheduled_at: datetime) -> str:
        """Run (or resume) one cycle; returns its outcome: done, failed or skipped."""
        self.metrics.loop_next_cycle.labels(LOOP).set(scheduled_at.timestamp())
        async with cycles.exclusive(self.pool, LOOP) as mine:
            if not mine:
                return self._outcome("skipped", scheduled_at, reason="another process runs the loop")
            await self._abandon_before(scheduled_at)
            stored = await cycles.claim(self.pool, LOOP, scheduled_at)
            if stored is None:
                return self._outcome("skipped", scheduled_at, reason="cycle already finished")
            started = time.perf_counter()
            self.metrics.loop_lag.labels(LOOP).set((self.clock.now() - scheduled_at).total_seconds())
            failed = await self._units(scheduled_at, stored)
            status = "failed" if failed else "done"
            await cycles.finish(self.pool, LOOP, scheduled_at, status, failed)
            self.metrics.loop_cycle_duration.labels(LOOP).observe(time.perf_counter() - started)
            return self._outcome(status, scheduled_at, failed=failed)

    async def _abandon_before(self, moment: datetime) -> None:
        """Only with the loop's lock held: then no process runs a `running` cycle older than the
        one due, and the loop never goes back to it."""
        for scheduled_at in await cycles.abandon_stale(self.pool, LOOP, moment):
            self._outcome("abandoned", scheduled_at, reason="interrupted and not resumed within an interval")

    def _outcome(self, outcome: str, scheduled_at: datetime, **detail: object) -> str:
        self.metrics.loop_cycles.labels(LOOP, outcome).inc()
        log.info("loop_cycle", loop=LOOP, cycle=scheduled_at.isoformat(), outcome=outcome, **detail)
        return outcome

    async def _units(self, scheduled_at: datetime, stored: set[tuple[str, str]]) -> int:
        """Store every unit not stored yet; returns how many failed (given up ones included)."""
        todo = [(s, h) for s, h in self.units if (s, h.value) not in stored]
        failed = streak = 0
        for i, (symbol, horizon) in enumerate(todo):
            try:
                await self._unit(scheduled_at, symbol, horizon)
            except ProviderError as exc:
                failed, streak = failed + 1, streak + 1
                self.metrics.loop_symbols.labels(LOOP, "failed").inc()
                log.warning("loop_unit_failed", symbol=symbol, horizon=horizon.value, error=str(exc))
                if streak >= GIVE_UP_AFTER:
                    left = len(todo) - i - 1
                    self.metrics.loop_symbols.labels(LOOP, "failed").inc(left)
                    log.warning("loop_cycle_given_up", cycle=scheduled_at.isoformat(), units_left=left)
                    return failed + left
                backoff = min(BACKOFF_FIRST_SECONDS * 2 ** (streak - 1), BACKOFF_MAX_SECONDS)
                await sleep_for(self.clock, max(backoff, exc.retry_after or 0.0))
                continue
            streak = 0
        return failed

    async def _unit(self, scheduled_at: datetime, symbol: str, horizon: Horizon) -> None:
        async def record(conn: asyncpg.Connection) -> None:
            await cycles.mark_unit(conn, LOOP, scheduled_at, symbol, horizon.value)

        writer = _UnitWriter(self.pool, record)
        with background_priority(self.rate_reserve):
            result = await ops.data_snapshot(self.providers, writer, self.metrics, [symbol], horizon)  # type: ignore[arg-type]
        # a symbol Polygon does not know writes no row: recorded all the same, counted failed
        self.metrics.loop_symbols.labels(LOOP, "failed" if result["missing"] else "done").inc()
        for feature_id, payload in zip(result["feature_ids"], result["features"], strict=True):
            self.publish(
                {
                    "type": "snapshot",
                    "cycle": scheduled_at.isoformat(),
                    "feature_id": feature_id,
                    "symbol": symbol,
                    "horizon": horizon.value,
                    "payload": payload,
                }
            )
