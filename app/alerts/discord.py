"""Discord webhook notifier that never blocks or fails a request.

`notify` only puts the message on a bounded queue (a full queue drops it and counts it as failed);
one background task sends it through the shared HTTP policy, which honours Discord's 429
`retry_after` (JSON body, seconds). Content is cut to Discord's 2000-character limit, mentions are
disabled (an alert must never ping @everyone), and the same alert repeated within
ALERT_DEDUP_SECONDS is counted as deduplicated and not sent again.
"""

import time
from collections.abc import Callable

import httpx
import structlog

from app.metrics import Metrics
from app.providers.background import BackgroundQueue
from app.providers.http import ProviderHTTP, header_retry_after

log = structlog.get_logger(__name__)

CONTENT_LIMIT = 2000
QUEUE_SIZE = 100
ELLIPSIS = "…"


def discord_retry_after(response: httpx.Response) -> float | None:
    """Discord states the wait in the body (`retry_after`, seconds) as well as in headers."""
    try:
        value = response.json().get("retry_after")
        if value is not None:
            return float(value)
    except (ValueError, AttributeError):
        pass
    return header_retry_after(response)


def fit(content: str) -> str:
    return content if len(content) <= CONTENT_LIMIT else content[: CONTENT_LIMIT - len(ELLIPSIS)] + ELLIPSIS


class DiscordNotifier:
    def __init__(
        self, http: ProviderHTTP | None, webhook_path: str, metrics: Metrics, dedup_seconds: float
    ) -> None:
        """`http` is None when DISCORD_WEBHOOK_URL is not set: alerts are then only logged."""
        self.http = http
        self.webhook_path = webhook_path
        self.metrics = metrics
        self.dedup_seconds = dedup_seconds
        self._last_sent: dict[str, float] = {}
        # called with (alert, outcome) for every outcome counted in trader_alerts_sent
        self.listeners: list[Callable[[str, str], None]] = []
        # (alert, content) pairs, sent one at a time
        self._queue = BackgroundQueue[tuple[str, str]](self._send, QUEUE_SIZE) if http else None

    @property
    def enabled(self) -> bool:
        return self.http is not None

    def _outcome(self, alert: str, outcome: str) -> None:
        self.metrics.alerts_sent.labels(outcome).inc()
        for listener in self.listeners:
            listener(alert, outcome)

    def notify(self, content: str, key: str | None = None, alert: str | None = None) -> None:
        """Queue an alert. `key` identifies "the same alert" for de-duplication (default: the
        text); `alert` is its name for the records (default: the key)."""
        key = key or content
        alert = alert or key[:80]
        now = time.monotonic()
        if now - self._last_sent.get(key, -float("inf")) < self.dedup_seconds:
            if self.http is not None:
                self._outcome(alert, "deduplicated")
            return
        if len(self._last_sent) > QUEUE_SIZE:  # forget keys whose window has passed
            self._last_sent = {k: t for k, t in self._last_sent.items() if now - t < self.dedup_seconds}
        self._last_sent[key] = now
        # logged once per de-duplication window, Discord or not
        log.warning("alert", alert=alert, content=content[:500])
        if self._queue is not None and not self._queue.put((alert, fit(content))):
            self._outcome(alert, "failed")

    async def _send(self, batch: list[tuple[str, str]]) -> None:
        assert self.http is not None
        for alert, content in batch:
            try:
                await self.http.request(
                    "POST",
                    self.webhook_path,
                    json={"content": content, "allowed_mentions": {"parse": []}},
                )
                self._outcome(alert, "sent")
            except Exception as exc:  # ProviderError, or anything else: the worker must survive it
                self._outcome(alert, "failed")
                log.error("alert_not_delivered", error=str(exc))

    async def drain(self, within_seconds: float) -> None:
        """Wait (bounded) until queued alerts are sent; used at shutdown and by tests."""
        if self._queue is not None:
            await self._queue.drain(within_seconds)

    async def aclose(self, within_seconds: float = 5.0) -> None:
        if self._queue is None or self.http is None:
            return
        await self._queue.aclose(within_seconds)
        await self.http.aclose()
