"""Open every provider client the settings allow, on the shared HTTP policy, and close them.

A provider whose credential is not set is None; endpoints that need it answer 503 naming the
variable. The Discord notifier always exists (without DISCORD_WEBHOOK_URL it only logs).
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg

from app.alerts.discord import DiscordNotifier, discord_retry_after
from app.alerts.hooks import ProviderAlarm
from app.core.config import Settings
from app.logging import log_provider_call
from app.metrics import Metrics
from app.providers.http import HttpPolicy, ProviderHTTP
from app.providers.journal import Journal
from app.providers.polygon import PolygonClient
from app.providers.tradier import TradierClient, rate_limit_listener

JSON = {"Accept": "application/json"}
DISCORD_RATE_PER_MINUTE = 30.0  # Discord allows about 30 webhook messages a minute per channel


@dataclass
class Providers:
    polygon: PolygonClient | None
    tradier: TradierClient | None
    notifier: DiscordNotifier
    alarm: ProviderAlarm
    journal: Journal

    def configured(self) -> dict[str, bool]:
        return {
            "polygon": self.polygon is not None,
            "tradier": self.tradier is not None,
            "discord": self.notifier.enabled,
        }

    async def aclose(self) -> None:
        await self.notifier.aclose()
        for client in (self.polygon, self.tradier):
            if client is not None:
                await client.aclose()
        await self.journal.aclose()


def _bearer_http(
    provider: str, base_url: str, rate: float, token: str, settings: Settings, metrics: Metrics
) -> ProviderHTTP:
    # a header rather than a query parameter (Polygon's ?apiKey=) keeps credentials out of URLs and logs
    headers = {**JSON, "Authorization": f"Bearer {token}"}
    return ProviderHTTP(
        provider, base_url, HttpPolicy.from_settings(settings, rate), metrics, headers=headers
    )


def open_polygon(settings: Settings, metrics: Metrics) -> PolygonClient | None:
    if settings.polygon_api_key is None:
        return None
    key = settings.polygon_api_key.get_secret_value()
    http = _bearer_http(
        "polygon", settings.polygon_base_url, settings.polygon_api_rate, key, settings, metrics
    )
    return PolygonClient(http, settings.polygon_cache_seconds, settings.polygon_plan_recheck_seconds)


def open_tradier(settings: Settings, metrics: Metrics) -> TradierClient | None:
    if settings.tradier_access_token is None:
        return None
    token = settings.tradier_access_token.get_secret_value()
    http = _bearer_http("tradier", settings.tradier_url, settings.tradier_api_rate, token, settings, metrics)
    http.response_hooks.append(rate_limit_listener(http.limiter))
    return TradierClient(http, settings.tradier_account_id)


def open_notifier(settings: Settings, metrics: Metrics) -> DiscordNotifier:
    if settings.discord_webhook_url is None:
        return DiscordNotifier(None, "", metrics, settings.alert_dedup_seconds)
    url = urlsplit(settings.discord_webhook_url.get_secret_value())
    http = ProviderHTTP(
        "discord",
        f"{url.scheme}://{url.netloc}",
        HttpPolicy.from_settings(settings, DISCORD_RATE_PER_MINUTE),
        metrics,
        retry_after=discord_retry_after,
    )
    return DiscordNotifier(http, url.path, metrics, settings.alert_dedup_seconds)


async def open_providers(settings: Settings, pool: asyncpg.Pool | None, metrics: Metrics) -> Providers:
    """`pool` receives the journal's `logs` rows (None: events are not recorded)."""
    # httpx logs every request URL at INFO; a Discord webhook URL is itself a credential
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").level))
    journal = Journal(pool, metrics)
    notifier = open_notifier(settings, metrics)
    notifier.listeners.append(journal.alert_outcome)
    if notifier.http is not None:
        notifier.http.listeners += [journal.provider_call, log_provider_call]
    alarm = ProviderAlarm(
        notifier, settings.alert_provider_error_ratio, settings.alert_rate_limited_per_minute
    )
    polygon, tradier = open_polygon(settings, metrics), open_tradier(settings, metrics)
    for client in (polygon, tradier):
        if client is not None:
            client.http.listeners += [alarm, journal.provider_call, log_provider_call]
    return Providers(polygon, tradier, notifier, alarm, journal)
