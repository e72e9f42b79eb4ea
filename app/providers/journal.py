"""Operational events (provider call outcomes, alerts, order outcomes) as `logs` rows.

The weekly review reads its provider, alert and guardrail facts from `logs` (docs/review.md):
`source` is `providers`, `alerts` or `orders`, and the payload carries `provider`/`status`,
`alert`/`outcome`, or `outcome`/`rule`. Recording never blocks a request: events go on a bounded
queue (overflow is dropped and logged) and one background task stores them in batches with COPY.
A database outage loses the batch at hand rather than stalling the service.
"""

from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from app.db.repo_logs import LOGS
from app.db.rows import copy_rows
from app.metrics import Metrics
from app.providers.background import BackgroundQueue

log = structlog.get_logger(__name__)

QUEUE_SIZE = 10_000
BATCH = 500
QUIET = ("1", "2", "3")  # HTTP status classes that are plain info


class Journal:
    def __init__(self, pool: asyncpg.Pool | None, metrics: Metrics) -> None:
        """`pool` None (no database, e.g. a CLI) makes every record a no-op."""
        self.pool = pool
        self.metrics = metrics
        self._queue = BackgroundQueue[dict[str, Any]](self._store, QUEUE_SIZE, BATCH) if pool else None

    def record(self, level: str, source: str, message: str, payload: dict[str, Any]) -> None:
        if self._queue is None:
            return
        row = {
            "ts": datetime.now(UTC),
            "level": level,
            "source": source,
            "message": message,
            "payload": payload,
        }
        if not self._queue.put(row):
            log.warning("journal_overflow", source=source, message=message)

    def provider_call(self, provider: str, status: str) -> None:
        """A `ProviderHTTP` listener."""
        level = "info" if status[:1] in QUIET else "warning"
        self.record(level, "providers", f"{provider} {status}", {"provider": provider, "status": status})

    def alert_outcome(self, alert: str, outcome: str) -> None:
        """A `DiscordNotifier` listener."""
        level = "error" if outcome == "failed" else "info"
        self.record(level, "alerts", f"alert {alert} {outcome}", {"alert": alert, "outcome": outcome})

    def order(self, level: str, message: str, **payload: Any) -> None:
        """An order outcome (`outcome` placed/rejected/failed/duplicate; `rule` for guardrails)."""
        self.record(level, "orders", message, payload)

    async def _store(self, rows: list[dict[str, Any]]) -> None:
        assert self.pool is not None
        try:
            async with self.pool.acquire() as conn:
                await copy_rows(conn, LOGS, rows)
            self.metrics.rows_written.labels("logs").inc(len(rows))
        except Exception as exc:  # the worker must outlive any one batch (database down, bad row)
            log.warning("journal_write_failed", rows=len(rows), error=type(exc).__name__, detail=str(exc))

    async def drain(self, within_seconds: float) -> None:
        """Wait (bounded) until recorded events are stored; at shutdown and in tests."""
        if self._queue is not None:
            await self._queue.drain(within_seconds)

    async def aclose(self, within_seconds: float = 5.0) -> None:
        if self._queue is not None:
            await self._queue.aclose(within_seconds)
