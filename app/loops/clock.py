"""Time for the loops, injected: the service uses the system clock, tests a clock they advance
by hand (tests/loops/helpers.py), so schedules and backoffs are tested without waiting."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Protocol

# Long sleeps are cut into slices so a suspended host (or a changed wall clock) is noticed.
SLICE_SECONDS = 60.0


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        while True:
            left = (when - self.now()).total_seconds()
            if left <= 0:
                return
            await asyncio.sleep(min(left, SLICE_SECONDS))


async def sleep_for(clock: Clock, seconds: float) -> None:
    await clock.sleep_until(clock.now() + timedelta(seconds=seconds))
