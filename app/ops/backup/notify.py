"""Tell the operator on Discord that a backup failed (the run itself still exits non-zero).

A one-shot command has no event loop to host the service's queued notifier, so this posts once
(and once more after a 429's `retry_after`, capped), with the same content limit and no mentions.
"""

import time

import httpx
import structlog

from app.alerts.discord import discord_retry_after, fit

log = structlog.get_logger(__name__)
MAX_RETRY_WAIT_SECONDS = 10.0


def notify_failure(webhook_url: str | None, message: str) -> bool:
    if not webhook_url:
        log.warning("backup failure not sent to Discord: DISCORD_WEBHOOK_URL is not set")
        return False
    body = {
        "content": fit(f":rotating_light: trader backup failed\n{message}"),
        "allowed_mentions": {"parse": []},
    }
    try:
        with httpx.Client(timeout=10) as client:
            response = client.post(webhook_url, json=body)
            if response.status_code == 429:
                time.sleep(min(discord_retry_after(response) or 1.0, MAX_RETRY_WAIT_SECONDS))
                response = client.post(webhook_url, json=body)
    except httpx.HTTPError as exc:
        log.error("backup failure not sent to Discord", error=str(exc))
        return False
    if response.is_success:
        return True
    log.error("backup failure not sent to Discord", status=response.status_code)
    return False
