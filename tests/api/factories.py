"""Request bodies for the storage routes: valid by default, override what a test is about."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

TOKEN = "tests-bearer-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)
_seq = itertools.count()


def at(minutes: int) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def trade(**over: Any) -> dict[str, Any]:
    body = {
        "ts": at(next(_seq)),
        "symbol": "AAPL",
        "side": "buy",
        "type": "limit",
        "qty": "10",
        "avg_price": "187.25",
        "pnl": None,
        "tags": ["swing"],
    }
    return body | over


def feature(**over: Any) -> dict[str, Any]:
    body = {
        "ts": at(next(_seq)),
        "symbol": "AAPL",
        "horizon": "1d",
        "payload": {"close": 187.25, "rsi_14": 61.2},
    }
    return body | over


def log_record(**over: Any) -> dict[str, Any]:
    body = {"level": "info", "source": "strategy.momentum", "message": "entry skipped", "payload": {"k": 1}}
    return body | over
