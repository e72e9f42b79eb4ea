"""The Discord notifier against the Discord fake: never blocks, honours 429 retry_after, fits the
2000-character limit, de-duplicates bursts; and the alert hooks that feed it."""

from app.alerts.discord import DiscordNotifier, discord_retry_after
from app.alerts.hooks import ProviderAlarm
from app.metrics import Metrics
from app.providers.http import ProviderHTTP
from tests.fakes.discord import WEBHOOK_PATH
from tests.fakes.faults import Fault
from tests.providers.helpers import fast_policy, sample


def notifier(url: str, metrics: Metrics, dedup_seconds: float = 60.0) -> DiscordNotifier:
    http = ProviderHTTP("discord", url, fast_policy(), metrics, retry_after=discord_retry_after)
    return DiscordNotifier(http, WEBHOOK_PATH, metrics, dedup_seconds)


async def test_alert_is_delivered_without_mentions(discord_fake, metrics: Metrics) -> None:
    fake, url = discord_fake
    n = notifier(url, metrics)
    n.notify("database down @everyone")
    await n.aclose()
    assert [m["content"] for m in fake.messages] == ["database down @everyone"]
    assert fake.messages[0]["allowed_mentions"] == {"parse": []}, "alerts must not ping anyone"
    assert sample(metrics, "trader_alerts_sent_total", outcome="sent") == 1


async def test_429_retry_after_from_the_body_is_honoured(discord_fake, metrics: Metrics) -> None:
    fake, url = discord_fake
    fake.rate_limit_next(1, retry_after=0.05)
    n = notifier(url, metrics)
    n.notify("rate limited once")
    await n.aclose()
    assert fake.attempts == 2 and len(fake.messages) == 1, "the alert was not resent after the 429"
    assert sample(metrics, "trader_provider_rate_limited_total", provider="discord") == 1


async def test_long_content_is_cut_to_the_limit(discord_fake, metrics: Metrics) -> None:
    fake, url = discord_fake
    n = notifier(url, metrics)
    n.notify("x" * 5000)
    await n.aclose()
    assert len(fake.messages) == 1, "Discord refused the message (over 2000 characters?)"
    assert len(fake.messages[0]["content"]) == 2000 and fake.messages[0]["content"].endswith("…")


async def test_a_burst_of_the_same_alert_is_sent_once(discord_fake, metrics: Metrics) -> None:
    fake, url = discord_fake
    n = notifier(url, metrics)
    for _ in range(5):
        n.notify("provider down", key="provider-errors:polygon")
    n.notify("another alert")
    await n.aclose()
    assert [m["content"] for m in fake.messages] == ["provider down", "another alert"]
    assert sample(metrics, "trader_alerts_sent_total", outcome="deduplicated") == 4


async def test_notify_returns_before_discord_answers(discord_fake, metrics: Metrics) -> None:
    fake, url = discord_fake
    fake.faults.add(Fault(status=0, delay=0.5))
    n = notifier(url, metrics)
    n.notify("slow discord")
    assert fake.messages == [], "notify() waited for Discord instead of queueing"
    await n.aclose()
    assert len(fake.messages) == 1


async def test_discord_down_counts_failed_and_raises_nothing(metrics: Metrics) -> None:
    n = notifier("http://127.0.0.1:9", metrics)  # discard port: connection refused
    n.notify("nobody listens")
    await n.aclose()
    assert sample(metrics, "trader_alerts_sent_total", outcome="failed") == 1


async def test_provider_error_ratio_and_429_spike_raise_alerts(discord_fake, metrics: Metrics) -> None:
    fake, url = discord_fake
    n = notifier(url, metrics)
    alarm = ProviderAlarm(n, error_ratio=0.5, rate_limited_per_minute=3)
    for status in ("200", "503", "timeout", "503", "200"):
        alarm("polygon", status)
    for _ in range(3):
        alarm("tradier", "429")
    alarm("discord", "500")  # Discord's own failures are not paged through Discord
    await n.aclose()
    texts = [m["content"] for m in fake.messages]
    assert any("TraderProviderErrors" in t and "polygon" in t for t in texts), texts
    assert any("TraderProviderRateLimited" in t and "tradier" in t for t in texts), texts
    assert len(texts) == 2, f"expected one alert per condition, got {texts}"
