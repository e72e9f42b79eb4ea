"""Factories for the provider tests: settings with tiny backoffs, fast policies, metric reads."""

from app.core.config import Settings, load_settings
from app.metrics import Metrics
from app.providers.http import HttpPolicy, ProviderHTTP
from app.providers.tradier import TradierClient, rate_limit_listener
from tests.api.factories import TOKEN


def fast_settings(**overrides: object) -> Settings:
    """Settings whose retries and waits take milliseconds, so error paths stay fast."""
    base: dict[str, object] = {
        "api_token": TOKEN,
        "http_timeout_seconds": 2.0,
        "http_max_retries": 2,
        "http_backoff_seconds": 0.01,
        "http_backoff_max_seconds": 0.05,
        "http_max_wait_seconds": 1.0,
        "breaker_failure_threshold": 50,
        "breaker_reset_seconds": 0.3,
        "polygon_api_rate": 6000.0,
        "tradier_api_rate": 6000.0,
        "alert_dedup_seconds": 60.0,
    }
    return load_settings(**{**base, **overrides})


def fast_policy(**overrides: object) -> HttpPolicy:
    base: dict[str, object] = {
        "timeout_seconds": 2.0,
        "max_retries": 2,
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "max_wait_seconds": 1.0,
        "rate_per_minute": 6000.0,
        "breaker_failures": 50,
        "breaker_reset_seconds": 0.3,
    }
    return HttpPolicy(**{**base, **overrides})  # type: ignore[arg-type]


def http_for(base_url: str, metrics: Metrics, provider: str = "polygon", **policy: object) -> ProviderHTTP:
    from tests.fakes.polygon import API_KEY

    return ProviderHTTP(
        provider, base_url, fast_policy(**policy), metrics, headers={"Authorization": f"Bearer {API_KEY}"}
    )


def tradier_for(base_url: str, metrics: Metrics, **policy: object) -> TradierClient:
    """A Tradier client for the fake, headers and rate-limit hook as the registry sets them."""
    from tests.fakes.tradier import TOKEN as TRADIER_TOKEN

    http = ProviderHTTP(
        "tradier",
        base_url,
        fast_policy(**policy),
        metrics,
        headers={"Accept": "application/json", "Authorization": f"Bearer {TRADIER_TOKEN}"},
    )
    http.response_hooks.append(rate_limit_listener(http.limiter))
    return TradierClient(http, "VA000001")


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    """A metric's current value (0 when the series does not exist yet)."""
    return metrics.registry.get_sample_value(name, labels) or 0.0
