"""Which clients the settings create, and how: base URLs by TRADIER_ENV, credentials in headers."""

from decimal import Decimal

from app.metrics import Metrics
from app.providers.registry import open_providers
from app.providers.tradier import OrderTicket
from tests.providers.helpers import fast_settings


async def test_tradier_env_selects_the_base_url() -> None:
    for env, host in (("sandbox", "https://sandbox.tradier.com"), ("prod", "https://api.tradier.com")):
        providers = await open_providers(
            fast_settings(TRADIER_API_KEY="t0k3n", tradier_env=env), None, Metrics()
        )
        assert providers.tradier is not None, "TRADIER_API_KEY should configure the Tradier client"
        assert str(providers.tradier.http.client.base_url).rstrip("/") == host, f"TRADIER_ENV={env}"
        assert providers.tradier.http.client.headers["Accept"] == "application/json"
        await providers.aclose()


async def test_sandbox_is_the_default_and_unset_providers_are_none() -> None:
    providers = await open_providers(fast_settings(TRADIER_ACCESS_TOKEN="t0k3n"), None, Metrics())
    assert str(providers.tradier.http.client.base_url).startswith("https://sandbox.tradier.com")  # type: ignore[union-attr]
    assert providers.polygon is None and not providers.notifier.enabled
    assert providers.configured() == {"polygon": False, "tradier": True, "discord": False}
    await providers.aclose()


async def test_polygon_key_travels_in_a_header_not_the_url() -> None:
    providers = await open_providers(fast_settings(polygon_api_key="pk-secret"), None, Metrics())
    http = providers.polygon.http  # type: ignore[union-attr]
    assert http.client.headers["Authorization"] == "Bearer pk-secret"
    assert "pk-secret" not in str(http.client.base_url) and not http.client.params
    await providers.aclose()


def test_order_form_uses_fixed_point_numbers() -> None:
    form = OrderTicket("SPY", "buy", Decimal("1E+1"), "limit", price=Decimal("5E-1")).form()
    assert (form["quantity"], form["price"]) == ("10", "0.5"), "Tradier reads plain decimals, not 1E+1"
