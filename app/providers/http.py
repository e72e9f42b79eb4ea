"""The one outbound HTTP policy every provider client uses (Polygon, Tradier, Discord).

Per provider: a timeout on every call, a client-side rate limit (token bucket, requests per
minute), retries with exponential backoff and full jitter on 429/5xx/network errors that honour
`Retry-After`, a short circuit breaker, and metrics by provider and status. A call that is not
safe to repeat (placing an order) is retried only when the request provably never reached the
provider: a 429, or a connection that was never established.
"""

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from app.core.config import Settings
from app.metrics import Metrics
from app.providers.errors import ProviderError
from app.providers.limits import CircuitBreaker, RateLimiter

# Called after each attempt with (provider, status); the alert hooks watch error rates through it.
Listener = Callable[[str, str], None]


@dataclass(frozen=True)
class HttpPolicy:
    timeout_seconds: float = 10.0
    max_retries: int = 3
    backoff_seconds: float = 0.5
    backoff_max_seconds: float = 20.0
    # Longest a call waits for the rate limiter or a Retry-After before failing fast; a request
    # handler should answer 503 + Retry-After rather than hang.
    max_wait_seconds: float = 30.0
    rate_per_minute: float = 60.0
    breaker_failures: int = 5
    breaker_reset_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings, rate_per_minute: float) -> "HttpPolicy":
        return cls(
            timeout_seconds=settings.http_timeout_seconds,
            max_retries=settings.http_max_retries,
            backoff_seconds=settings.http_backoff_seconds,
            backoff_max_seconds=settings.http_backoff_max_seconds,
            max_wait_seconds=settings.http_max_wait_seconds,
            rate_per_minute=rate_per_minute,
            breaker_failures=settings.breaker_failure_threshold,
            breaker_reset_seconds=settings.breaker_reset_seconds,
        )


def parse_retry_after(value: str | None) -> float | None:
    """`Retry-After` is either delay-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def header_retry_after(response: httpx.Response) -> float | None:
    return parse_retry_after(response.headers.get("Retry-After"))


class ProviderHTTP:
    """An httpx client bound to one provider and the shared policy."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        policy: HttpPolicy,
        metrics: Metrics,
        *,
        headers: dict[str, str] | None = None,
        retry_after: Callable[[httpx.Response], float | None] = header_retry_after,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self.metrics = metrics
        self.limiter = RateLimiter(policy.rate_per_minute)
        gauge = metrics.provider_breaker_open.labels(provider)
        gauge.set(0)
        self.breaker = CircuitBreaker(
            policy.breaker_failures, policy.breaker_reset_seconds, lambda is_open: gauge.set(int(is_open))
        )
        self.listeners: list[Listener] = []
        # Provider-specific reading of replies, e.g. Tradier's X-Ratelimit-* headers.
        self.response_hooks: list[Callable[[httpx.Response], None]] = []
        self._retry_after = retry_after
        self.client = httpx.AsyncClient(
            base_url=base_url, headers=headers or {}, timeout=policy.timeout_seconds
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    def _record(self, status: str) -> None:
        self.metrics.provider_requests.labels(self.provider, status).inc()
        for listener in self.listeners:
            listener(self.provider, status)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            return exc.retry_after + random.uniform(0, self.policy.backoff_seconds)  # noqa: S311
        ceiling = min(
            self.policy.backoff_max_seconds, self.policy.backoff_seconds * 2 ** (state.attempt_number - 1)
        )
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return False
        return exc.retry_after is None or exc.retry_after <= self.policy.max_wait_seconds

    async def request(
        self, method: str, url: str, *, idempotent: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """Send with the policy; returns a 2xx/3xx response or raises ProviderError (4xx included,
        with the body, so clients can read the provider's error payload)."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.policy.max_retries + 1),
            wait=self._wait,
            retry=retry_if_exception(self._should_retry),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                return await self._attempt(method, url, idempotent, kwargs)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _attempt(self, method: str, url: str, idempotent: bool, kwargs: dict) -> httpx.Response:
        wait = self.breaker.retry_in()
        if wait > 0:
            self._record("breaker_open")
            raise ProviderError(
                self.provider,
                "breaker_open",
                f"circuit breaker open after repeated failures; retry in {wait:.0f}s",
                retry_after=wait,
            )
        await self.limiter.acquire(self.provider, self.policy.max_wait_seconds)
        started = time.perf_counter()
        try:
            response = await self.client.request(method, url, **kwargs)
        except httpx.TransportError as exc:
            # Connect errors/timeouts and pool timeouts happen before anything was sent.
            never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
            kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
            self._record("timeout" if kind == "timeout" else "error")
            self.breaker.failure()
            raise ProviderError(
                self.provider,
                kind,
                f"{method} {url}: {type(exc).__name__} {exc}".strip(),
                maybe_delivered=not never_sent,
                retryable=idempotent or never_sent,
            ) from exc
        finally:
            self.metrics.provider_duration.labels(self.provider).observe(time.perf_counter() - started)
        status = response.status_code
        self._record(str(status))
        for hook in self.response_hooks:
            hook(response)
        if status == 429:
            self.metrics.provider_rate_limited.labels(self.provider).inc()
            retry_after = self._retry_after(response)
            if retry_after is not None:
                self.limiter.pause(retry_after)
            # A 429 was refused before processing: safe to repeat even for orders.
            raise ProviderError(
                self.provider,
                "http",
                f"{method} {url}: 429 rate limited",
                status_code=429,
                body=response.text,
                retry_after=retry_after,
                retryable=True,
            )
        if status >= 500:
            self.breaker.failure()
            raise ProviderError(
                self.provider,
                "http",
                f"{method} {url}: HTTP {status}",
                status_code=status,
                body=response.text,
                retry_after=header_retry_after(response),
                maybe_delivered=True,
                retryable=idempotent,
            )
        self.breaker.success()
        if status >= 400:
            raise ProviderError(
                self.provider,
                "http",
                f"{method} {url}: HTTP {status}",
                status_code=status,
                body=response.text,
            )
        return response
