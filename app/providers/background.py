"""A bounded queue drained by one background task: how alerts and journal rows leave the
request path. `put` never waits (False when full); the handler gets batches of up to `batch`
items and must not raise (a failure it swallows is the caller's to count); `aclose` waits a
bounded time for what is queued, then stops the task."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class BackgroundQueue(Generic[T]):
    def __init__(self, handle: Callable[[list[T]], Awaitable[None]], size: int, batch: int = 1) -> None:
        self._handle = handle
        self._batch = batch
        self._queue: asyncio.Queue[T] = asyncio.Queue(size)
        self._task = asyncio.create_task(self._run())

    def put(self, item: T) -> bool:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return False
        return True

    async def _run(self) -> None:
        while True:
            items = [await self._queue.get()]
            while len(items) < self._batch and not self._queue.empty():
                items.append(self._queue.get_nowait())
            try:
                await self._handle(items)
            finally:
                for _ in items:
                    self._queue.task_done()

    async def drain(self, within_seconds: float) -> None:
        """Wait (bounded) until everything queued so far has been handled."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within_seconds):
                await self._queue.join()

    async def aclose(self, within_seconds: float) -> None:
        await self.drain(within_seconds)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
