"""The review reads what the service writes: events recorded by the real Journal (app/providers/
journal.py) come back as the review's provider, alert and guardrail facts."""

from datetime import UTC, datetime, timedelta

import asyncpg

from app.core.config import load_settings
from app.db.pool import create_pool
from app.metrics import Metrics
from app.ops.review.facts import weekly_facts
from app.ops.review.periods import Period
from app.providers.journal import Journal


async def test_journal_rows_become_review_facts(db_url: str, conn: asyncpg.Connection) -> None:
    pool = await create_pool(
        load_settings(database_url=db_url, api_token="review-test-token-0123456789")
    )  # the service's pool
    try:
        journal = Journal(pool, Metrics())
        for status in ("200", "429", "503", "timeout", "breaker_open"):
            journal.provider_call("polygon", status)
        journal.alert_outcome("TraderProviderErrors", "sent")
        journal.alert_outcome("TraderProviderErrors", "failed")
        journal.order("warning", "AAPL is not in SYMBOL_ALLOWLIST", outcome="rejected", rule="allowlist")
        journal.order("info", "order placed", outcome="placed")
        await journal.aclose()
    finally:
        await pool.close()
    now = datetime.now(UTC)
    facts = await weekly_facts(conn, Period(now - timedelta(hours=1), now + timedelta(hours=1), "now"))
    assert facts.providers == [("polygon", 5, 3, 1)], (
        f"5 calls, 503/timeout/breaker_open failed, one 429: {facts}"
    )
    assert facts.alerts == [("TraderProviderErrors", "failed", 1), ("TraderProviderErrors", "sent", 1)], facts
    assert facts.rejections == [("allowlist", 1)], f"guardrail rejections by rule: {facts.rejections}"
