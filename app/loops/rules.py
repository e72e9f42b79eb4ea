"""Alert rules (table `alert_rules`, migration 0003): what a rule watches and when it fires.

A rule compares a value with its `level`: the price (`price_cross`), the percentage move of the
price over `window_minutes` (`pct_move`), or a field of the features payload (`feature_cross`,
e.g. `change_pct` or `horizon.realized_vol_pct`). It fires when the value *crosses* to the
`direction` side of the level: the previous observation was on the other side. Staying beyond the
level fires nothing more; the first observation only sets where the value stands. A crossing
within `cooldown_seconds` of the last firing is suppressed (counted, not sent).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg

KINDS = ("price_cross", "pct_move", "feature_cross")
DIRECTIONS = ("above", "below")
COLUMNS = (
    "id, kind, symbol, direction, level, window_minutes, field, horizon, cooldown_seconds, note,"
    " enabled, created_at, disabled_at, last_feature_id, last_value, last_met, last_fired_at, fired_count"
)


@dataclass(frozen=True)
class Verdict:
    met: bool  # the value is on the rule's side of the level
    fire: bool  # a crossing outside the cooldown: send it
    suppressed: bool  # a crossing inside the cooldown


def field_value(payload: dict[str, Any], path: str) -> float | None:
    """A number at a dotted path of a features payload (`horizon.return_pct`), or None."""
    value: Any = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def judge(rule: asyncpg.Record | dict[str, Any], value: float, now: datetime) -> Verdict:
    met = value > rule["level"] if rule["direction"] == "above" else value < rule["level"]
    crossed = met and rule["last_met"] is False
    last = rule["last_fired_at"]
    cooling = last is not None and now - last < timedelta(seconds=rule["cooldown_seconds"])
    return Verdict(met, crossed and not cooling, crossed and cooling)


def describe(rule: asyncpg.Record | dict[str, Any], value: float) -> str:
    what = {
        "price_cross": "price",
        "pct_move": f"move over {rule['window_minutes']} min (%)",
        "feature_cross": rule["field"],
    }[rule["kind"]]
    note = f" — {rule['note']}" if rule["note"] else ""
    return (
        f"{rule['symbol']} {what} {value:g} crossed {rule['direction']} {rule['level']:g}"
        f" (alert rule #{rule['id']}){note}"
    )


async def create(conn: asyncpg.Connection | asyncpg.Pool, values: dict[str, Any]) -> asyncpg.Record:
    names = list(values)
    params = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    return await conn.fetchrow(
        f"insert into alert_rules ({', '.join(names)}) values ({params}) returning {COLUMNS}",
        *values.values(),
    )


async def listing(conn: asyncpg.Connection | asyncpg.Pool, enabled: bool | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"select {COLUMNS} from alert_rules where $1::boolean is null or enabled = $1 order by id", enabled
    )


async def disable(conn: asyncpg.Connection | asyncpg.Pool, rule_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "update alert_rules set enabled = false, disabled_at = coalesce(disabled_at, now())"
        f" where id = $1 returning {COLUMNS}",
        rule_id,
    )
