"""The two guards in front of every outbound call: a token-bucket rate limiter and a short
circuit breaker (used by app/providers/http.py)."""

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from app.providers.errors import ProviderError

# Tokens a background caller must leave in the bucket; None for an interactive caller. A context
# variable, so it marks every request a background task makes (and the tasks it starts) however
# deep in the client the request is sent, and never another task's.
_background_reserve: ContextVar[int | None] = ContextVar("background_reserve", default=None)


@contextlib.contextmanager
def background_priority(reserve: int) -> Iterator[None]:
    """Requests made inside take a token only while more than `reserve` are left, waiting as long
    as that takes (interactive traffic decides), so up to `reserve` interactive requests per
    bucket are never delayed by them. A Retry-After pause still fails them after `max_wait`."""
    token = _background_reserve.set(reserve)
    try:
        yield
    finally:
        _background_reserve.reset(token)


def _throttled(provider: str, wait: float) -> ProviderError:
    return ProviderError(
        provider,
        "throttled",
        f"client-side rate limit: next request allowed in {wait:.1f}s",
        retry_after=wait,
    )


class RateLimiter:
    """Token bucket: `per_minute` requests per minute with a burst of the same size, plus an
    explicit pause (a provider's Retry-After or rate-limit headers say when to come back).

    A caller reserves its token before sleeping (the balance may go negative), so every waiter
    knows its own wait up front and fails at once when that exceeds what it may wait."""

    def __init__(self, per_minute: float) -> None:
        self.capacity = max(1.0, per_minute)
        self.refill_per_second = per_minute / 60.0
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)

    def _refill(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        return now

    def wait_needed(self, reserve: int = 0) -> float:
        """Seconds until a token beyond `reserve` is there and no pause holds (refills first)."""
        now = self._refill()
        spare = self.tokens - reserve
        shortfall = 0.0 if spare >= 1 else (1 - spare) / self.refill_per_second
        return max(shortfall, self.paused_until - now, 0.0)

    async def acquire(self, provider: str, max_wait: float) -> None:
        reserve = _background_reserve.get()
        if reserve is not None:
            await self._acquire_spare(provider, max_wait, reserve)
            return
        wait = self.wait_needed()
        if wait > max_wait:
            raise _throttled(provider, wait)
        self.tokens -= 1  # reserved now (no await since the computation), spent after the wait
        if wait > 0:
            await asyncio.sleep(wait)

    async def _acquire_spare(self, provider: str, max_wait: float, reserve: int) -> None:
        """A background caller reserves nothing ahead: it sleeps, then looks again, because an
        interactive caller may have taken the tokens it was waiting for in the meantime."""
        while True:
            wait = self.wait_needed(reserve)
            if wait == 0:
                self.tokens -= 1
                return
            paused = self.paused_until - time.monotonic()
            if paused > max_wait:
                raise _throttled(provider, paused)
            await asyncio.sleep(wait)


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `reset_seconds` lets calls through
    again (half-open) and closes on the first success or re-opens on the first failure."""

    def __init__(self, threshold: int, reset_seconds: float, on_change: Callable[[bool], None]) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.failures = 0
        self.opened_at: float | None = None
        self._on_change = on_change

    def retry_in(self) -> float:
        """Seconds until calls are allowed again; 0 when closed or half-open."""
        if self.opened_at is None:
            return 0.0
        return max(self.opened_at + self.reset_seconds - time.monotonic(), 0.0)

    def success(self) -> None:
        self.failures = 0
        if self.opened_at is not None:
            self.opened_at = None
            self._on_change(False)

    def failure(self) -> None:
        self.failures += 1
        half_open = self.opened_at is not None and self.retry_in() == 0
        if self.failures >= self.threshold or half_open:
            if self.opened_at is None:
                self._on_change(True)
            self.opened_at = time.monotonic()
