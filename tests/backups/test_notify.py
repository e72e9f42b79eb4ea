"""Failure notices reach Discord (a local stand-in speaking its webhook protocol)."""

from app.ops.backup.notify import notify_failure
from tests.fakes.discord import FakeDiscord
from tests.fakes.server import serve


def test_a_rate_limited_notice_is_sent_after_retry_after() -> None:
    discord = FakeDiscord()
    discord.rate_limit_next(1, retry_after=0.3)
    with serve(discord.app) as base:
        assert notify_failure(discord.webhook_url(base), "x" * 5000) is True
    assert discord.attempts == 2, f"expected one 429 then one delivery, saw {discord.attempts} attempts"
    sent = discord.messages[0]
    assert len(sent["content"]) <= 2000, "content must be cut to Discord's 2000-character limit"
    assert sent["allowed_mentions"] == {"parse": []}, "a backup alert must never ping anyone"


def test_an_unreachable_webhook_does_not_hide_the_backup_error() -> None:
    assert notify_failure("http://127.0.0.1:9/api/webhooks/1/x", "boom") is False
    assert notify_failure(None, "boom") is False
