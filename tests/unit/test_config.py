"""load_settings: every malformed variable is named in one readable error."""

import pytest

from app.core.config import SettingsError, load_settings

TOKEN = "unit-test-token-0123456789"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"database_url": "mysql://x"}, "DATABASE_URL"),
        ({"tradier_env": "live"}, "TRADIER_ENV"),
        ({"polygon_api_rate": "fast"}, "POLYGON_API_RATE"),
        ({"db_pool_max": 0}, "DB_POOL_MAX"),
        ({"api_token": "changeme-changeme-changeme"}, "API_TOKEN"),
        ({"api_token": "short"}, "API_TOKEN"),
        ({"db_pool_min": 5, "db_pool_max": 2}, "DB_POOL_MIN"),
    ],
)
def test_a_bad_value_names_its_variable(overrides: dict, named: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(**({"api_token": TOKEN} | overrides))
    assert named in str(err.value), f"error does not name {named}: {err.value}"


def test_environment_values_are_read_and_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("API_TOKEN", TOKEN)
    monkeypatch.setenv("TRADIER_API_KEY", "tradier-key")
    monkeypatch.setenv("SYMBOL_ALLOWLIST", " spy, aapl ,")
    monkeypatch.setenv("DB_STARTUP_TIMEOUT_SECONDS", "-1")
    with pytest.raises(SettingsError, match="DB_STARTUP_TIMEOUT_SECONDS"):
        load_settings()
    monkeypatch.setenv("DB_STARTUP_TIMEOUT_SECONDS", "3")
    s = load_settings()
    assert s.tradier_access_token is not None and s.tradier_access_token.get_secret_value() == "tradier-key"
    assert s.symbol_allowlist == ["SPY", "AAPL"] and s.db_startup_timeout_seconds == 3


def test_secrets_do_not_show_in_the_settings_repr() -> None:
    s = load_settings(api_token=TOKEN, polygon_api_key="pk-very-secret")
    assert TOKEN not in repr(s) and "pk-very-secret" not in repr(s), "a secret leaked into repr(settings)"
