"""Start the loops the settings enable (in the service's lifespan) and stop them at shutdown."""

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from app.core.config import Settings
from app.loops.calendar import MarketSchedule
from app.loops.clock import Clock, SystemClock
from app.loops.poller import AlertPoller
from app.loops.snapshots import SnapshotLoop
from app.loops.stream import StreamHub
from app.metrics import Metrics
from app.providers.registry import Providers


@dataclass
class Loops:
    tasks: list[asyncio.Task] = field(default_factory=list)

    async def aclose(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _fan_out(hub: StreamHub, poller: AlertPoller | None) -> Callable[[dict[str, Any]], None]:
    """What the snapshot loop does with a new snapshot: stream it, and have the rules see it now."""

    def publish(event: dict[str, Any]) -> None:
        hub.publish(event)
        if poller is not None:
            poller.poke()

    return publish


def start_loops(
    settings: Settings,
    pool: asyncpg.Pool,
    providers: Providers,
    metrics: Metrics,
    hub: StreamHub,
    clock: Clock | None = None,
) -> Loops:
    clock = clock or SystemClock()
    loops = Loops()
    poller = None
    if settings.enable_alerts_poller:
        poller = AlertPoller(
            pool,
            providers.notifier,
            metrics,
            clock=clock,
            poll_seconds=settings.alerts_poll_seconds,
            publish=hub.publish,
        )
        loops.tasks.append(asyncio.create_task(poller.run(), name="alerts-poller"))
    if settings.enable_background_loops:
        snapshots = SnapshotLoop(
            pool,
            providers,
            metrics,
            symbols=settings.watchlist_symbols,
            horizons=list(settings.watchlist_horizons),
            schedule=MarketSchedule(settings.snapshot_interval_minutes),
            clock=clock,
            rate_reserve=settings.loop_rate_reserve,
            publish=_fan_out(hub, poller),
        )
        loops.tasks.append(asyncio.create_task(snapshots.run(), name="snapshot-loop"))
    return loops
