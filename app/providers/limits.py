"""The two guards in front of every outbound call: a token-bucket rate limiter and a short
circuit breaker (used by app/providers/http.py)."""

import asyncio
import time
from collections.abc import Callable

from app.providers.errors import ProviderError


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

    def wait_needed(self) -> float:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.refill_per_second)
        self.updated = now
        shortfall = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.refill_per_second
        return max(shortfall, self.paused_until - now, 0.0)

    async def acquire(self, provider: str, max_wait: float) -> None:
        wait = self.wait_needed()
        if wait > max_wait:
            raise ProviderError(
                provider,
                "throttled",
                f"client-side rate limit: next request allowed in {wait:.1f}s",
                retry_after=wait,
            )
        self.tokens -= 1  # reserved now (no await since the computation), spent after the wait
        if wait > 0:
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
