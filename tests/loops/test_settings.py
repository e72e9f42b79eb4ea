"""The loop settings: off by default, and a switch turned on without what it needs fails start-up
naming the variable to set."""

from typing import get_args

import pytest

from app.core.config import SettingsError, WatchlistHorizon, load_settings
from app.providers.snapshot import Horizon
from tests.api.factories import TOKEN


def test_everything_is_off_by_default() -> None:
    settings = load_settings(api_token=TOKEN)
    assert not settings.enable_background_loops and not settings.enable_alerts_poller


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"ENABLE_BACKGROUND_LOOPS": "true", "POLYGON_API_KEY": "k"}, "WATCHLIST_SYMBOLS"),
        ({"ENABLE_BACKGROUND_LOOPS": "true", "WATCHLIST_SYMBOLS": "SPY"}, "POLYGON_API_KEY"),
        (
            {
                "ENABLE_BACKGROUND_LOOPS": "1",
                "WATCHLIST_SYMBOLS": "SPY",
                "POLYGON_API_KEY": "k",
                "LOOP_RATE_RESERVE": "5",
            },
            "LOOP_RATE_RESERVE",
        ),
        ({"WATCHLIST_HORIZONS": "1d,2w"}, "WATCHLIST_HORIZONS"),
        ({"WS_PING_SEC": "0"}, "WS_PING_SEC"),
        ({"SNAPSHOT_INTERVAL_MINUTES": "0"}, "SNAPSHOT_INTERVAL_MINUTES"),
    ],
)
def test_a_bad_loop_setting_names_the_variable(monkeypatch, env: dict[str, str], named: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=named):
        load_settings(api_token=TOKEN)


def test_lists_are_split_and_horizons_match_data_snapshot(monkeypatch) -> None:
    monkeypatch.setenv("WATCHLIST_SYMBOLS", "spy, qqq")
    monkeypatch.setenv("WATCHLIST_HORIZONS", "1d,1m")
    settings = load_settings(api_token=TOKEN)
    assert settings.watchlist_symbols == ["SPY", "QQQ"] and settings.watchlist_horizons == ["1d", "1m"]
    assert set(get_args(WatchlistHorizon)) == {h.value for h in Horizon}, (
        "WATCHLIST_HORIZONS must allow exactly data.snapshot's horizons"
    )
