"""The service settings a review may propose changing, their current values, and the checks a
proposal must pass before it reaches the report.

Current values come from the deployed env file when given (`--env-file`), else this process's
environment, else the service's default, so the report's "current" column is read, never taken
from the model. TRADING_ENABLED is deliberately absent: switching live trading on or off is not
a tuning suggestion.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import TypeAdapter, ValidationError

from app.core.config import Settings

TUNABLE = (
    "MAX_ORDER_QTY",
    "MAX_ORDER_NOTIONAL",
    "SYMBOL_ALLOWLIST",
    "ALERT_PROVIDER_ERROR_RATIO",
    "ALERT_RATE_LIMITED_PER_MINUTE",
    "ALERT_DEDUP_SECONDS",
    "POLYGON_API_RATE",
    "TRADIER_API_RATE",
    "HTTP_TIMEOUT_SECONDS",
    "HTTP_MAX_RETRIES",
    "BREAKER_FAILURE_THRESHOLD",
    "BREAKER_RESET_SECONDS",
)


@dataclass(frozen=True)
class Action:
    setting: str
    current: str
    proposed: str
    reason: str


def current_values(env_file: Path | None = None) -> dict[str, str]:
    source: dict[str, str | None] = dict(dotenv_values(env_file)) if env_file else dict(os.environ)
    values = {}
    for name in TUNABLE:
        raw = source.get(name)
        values[name] = raw if raw is not None else _default(name)
    return values


def _default(name: str) -> str:
    default = Settings.model_fields[name.lower()].get_default(call_default_factory=True)
    return ",".join(default) if isinstance(default, list) else str(default)


def check_actions(proposals: list[Any], current: dict[str, str]) -> tuple[list[Action], list[str]]:
    """Keep the proposals that name a tunable setting and a valid new value; say why others went."""
    actions, dropped = [], []
    for item in proposals:
        if not isinstance(item, dict):
            dropped.append(f"not an object: {item!r:.80}")
            continue
        name = str(item.get("setting", "")).strip().upper()
        proposed = str(item.get("proposed", "")).strip()
        if name not in current:
            dropped.append(f"{name or '(no setting)'}: not a setting the review may change")
        elif proposed == current[name]:
            dropped.append(f"{name}: proposed value equals the current one ({proposed})")
        elif problem := _invalid(name, proposed):
            dropped.append(f"{name}={proposed}: {problem}")
        else:
            actions.append(Action(name, current[name], proposed, str(item.get("reason", "")).strip()))
    return actions, dropped


def _invalid(name: str, value: str) -> str | None:
    """The service's own field type and bounds decide whether a value is acceptable."""
    field = Settings.model_fields[name.lower()]
    if name == "SYMBOL_ALLOWLIST":
        return (
            None
            if all(s.strip().isalnum() for s in value.split(",") if s.strip())
            else "symbols must be A-Z/0-9"
        )
    try:
        # the field's type with its bounds, built at run time (hence the ignore for mypy)
        TypeAdapter(Annotated[field.annotation, *field.metadata]).validate_python(value)  # type: ignore[arg-type]
    except ValidationError as exc:
        return exc.errors()[0]["msg"]
    return None
