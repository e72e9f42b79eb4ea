"""When to page: a provider's error rate over ALERT_PROVIDER_ERROR_RATIO, a spike of rate-limited
calls (ALERT_RATE_LIMITED_PER_MINUTE), and unhandled exceptions in request handlers.

The provider hooks listen to every outbound attempt of the shared HTTP policy over a sliding
one-minute window; the notifier's de-duplication keeps a sustained problem to one message per
ALERT_DEDUP_SECONDS. Discord's own calls are not watched (an outage there cannot be paged there).
"""

import time
from collections import deque
from collections.abc import Callable

from fastapi import Request

from app.alerts.discord import DiscordNotifier

WINDOW_SECONDS = 60.0
MIN_CALLS_FOR_RATIO = 5  # two failures out of three calls is noise, not an incident
FAILED = ("timeout", "error", "breaker_open")


class ProviderAlarm:
    def __init__(self, notifier: DiscordNotifier, error_ratio: float, rate_limited_per_minute: int) -> None:
        self.notifier = notifier
        self.error_ratio = error_ratio
        self.rate_limited_per_minute = rate_limited_per_minute
        self._events: dict[str, deque[tuple[float, str]]] = {}

    def __call__(self, provider: str, status: str) -> None:
        if provider == "discord":
            return
        now = time.monotonic()
        events = self._events.setdefault(provider, deque())
        events.append((now, status))
        while events and events[0][0] < now - WINDOW_SECONDS:
            events.popleft()
        errors = sum(1 for _, s in events if s in FAILED or s.startswith("5"))
        limited = sum(1 for _, s in events if s == "429")
        if len(events) >= MIN_CALLS_FOR_RATIO and errors / len(events) >= self.error_ratio:
            self.notifier.notify(
                f"**TraderProviderErrors** {provider}: {errors} of {len(events)} calls failed in the last "
                f"minute (threshold {self.error_ratio:.0%}, ALERT_PROVIDER_ERROR_RATIO)",
                key=f"provider-errors:{provider}",
                alert="TraderProviderErrors",
            )
        if limited >= self.rate_limited_per_minute:
            self.notifier.notify(
                f"**TraderProviderRateLimited** {provider}: {limited} calls answered 429 in the last minute "
                f"(threshold {self.rate_limited_per_minute}, ALERT_RATE_LIMITED_PER_MINUTE); "
                f"lower the {provider.upper()}_API_RATE setting or upgrade the plan",
                key=f"rate-limited:{provider}",
                alert="TraderProviderRateLimited",
            )


def unhandled_exception_hook(notifier: DiscordNotifier) -> Callable[[Request, Exception], None]:
    """For `app.state.unhandled_exception_hooks`: one alert per route and exception type."""

    def hook(request: Request, exc: Exception) -> None:
        request_id = getattr(request.state, "request_id", None)
        notifier.notify(
            f"**TraderUnhandledException** {request.method} {request.url.path}: {type(exc).__name__}: "
            f"{str(exc)[:500]} (request_id {request_id})",
            key=f"exception:{request.url.path}:{type(exc).__name__}",
            alert="TraderUnhandledException",
        )

    return hook
