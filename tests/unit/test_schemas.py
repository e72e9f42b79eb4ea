"""Body validation keeps input Postgres cannot store a 422 instead of a database error."""

import pytest
from pydantic import ValidationError

from app.api.schemas_tables import FeatureIn, LogIn, TradeIn

TRADE = {
    "ts": "2026-01-02T15:04:05Z",
    "symbol": "aapl",
    "side": "buy",
    "type": "limit",
    "qty": 1,
    "avg_price": 2,
}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ts", "2026-01-02T15:04:05"),  # naive
        ("ts", 0),  # a Unix time
        ("ts", "0.5"),
        ("ts", "1969-12-31T23:59:59Z"),
        ("ts", "2200-01-01T00:00:00Z"),
        ("symbol", "TOO-LONG-SYMBOL-FOR-ANY-EXCHANGE-X"),
        ("symbol", "A B"),
        ("qty", "0"),
        ("qty", "1e400"),
        ("qty", "0.123456789"),  # more than 8 decimal places
        ("avg_price", "NaN"),
        ("tags", ["ok", "bad\ud800"]),  # unpaired surrogate
        ("tags", [""]),
    ],
)
def test_trade_field_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        TradeIn.model_validate(TRADE | {field: value})
    assert any(e["loc"][0] == field for e in err.value.errors()), err.value


def test_a_valid_trade_is_normalised() -> None:
    trade = TradeIn.model_validate(TRADE)
    assert trade.symbol == "AAPL" and trade.tags == [] and trade.pnl is None


@pytest.mark.parametrize(
    "payload",
    [{"x": float("inf")}, {"x": [1, {"y": "nul\u0000"}]}, {"bad\u0000key": 1}, {"x": "y" * 70_000}],
)
def test_feature_payload_refused(payload: dict) -> None:
    body = {"ts": "2026-01-02T15:04:05Z", "symbol": "SPY", "horizon": "1d", "payload": payload}
    with pytest.raises(ValidationError, match="payload"):
        FeatureIn.model_validate(body)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        LogIn.model_validate({"level": "info", "source": "s", "message": "m", "severity": "high"})
