"""The limiter's background priority on its own (app/providers/limits.py): what the snapshot loop
relies on to leave LOOP_RATE_RESERVE tokens to interactive calls."""

import asyncio
import time

import pytest

from app.providers.errors import ProviderError
from app.providers.limits import RateLimiter, background_priority


async def take(limiter: RateLimiter, reserve: int | None, max_wait: float = 5.0) -> float:
    """Acquire a token (background when `reserve` is given); returns when it was granted."""
    if reserve is None:
        await limiter.acquire("polygon", max_wait)
    else:
        with background_priority(reserve):
            await limiter.acquire("polygon", max_wait)
    return time.monotonic()


async def test_a_background_caller_waits_for_a_token_beyond_the_reserve_then_takes_it() -> None:
    limiter = RateLimiter(600)  # a token per 0.1 s
    limiter.tokens = 2.0  # exactly the reserve: the token it takes must be a refilled one
    await take(limiter, reserve=2)
    assert limiter.tokens >= 2 - 1e-9, f"it dipped into the reserve: {limiter.tokens:.3f} tokens left"


async def test_an_interactive_caller_that_comes_later_still_goes_first() -> None:
    limiter = RateLimiter(600)
    limiter.tokens = 0.0
    background = asyncio.create_task(take(limiter, reserve=1))
    await asyncio.sleep(0.05)  # the background caller is waiting
    person = await take(limiter, reserve=None)
    assert not background.done(), "the background caller went before the person"
    assert person < await background, "the background caller went before the person"


async def test_the_reserve_is_per_task_not_global() -> None:
    limiter = RateLimiter(6)  # no refill to speak of during the test
    limiter.tokens = 1.0

    async def loop_task() -> None:
        with background_priority(1):
            await asyncio.sleep(0.05)  # suspended inside its priority while the person calls

    task = asyncio.create_task(loop_task())
    await asyncio.sleep(0.01)
    await take(limiter, reserve=None, max_wait=0)  # would raise if it had been marked background
    await task


async def test_a_retry_after_longer_than_max_wait_fails_a_background_caller_at_once() -> None:
    limiter = RateLimiter(600)
    limiter.pause(30)
    with pytest.raises(ProviderError) as caught:
        await asyncio.wait_for(take(limiter, reserve=0, max_wait=1.0), 1.0)
    assert caught.value.kind == "throttled" and caught.value.retry_after > 29
