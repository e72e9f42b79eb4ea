"""The time ranges a review covers: an ISO week (`2026-W47`) or "the last 24h", always in UTC."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")
_SINCE = re.compile(r"^(\d+)([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


class PeriodError(ValueError):
    pass


@dataclass(frozen=True)
class Period:
    start: datetime  # inclusive
    end: datetime  # exclusive
    label: str  # "2026-W47" or "24h to 2026-11-25 22:00 UTC"

    def describe(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M} UTC"


def iso_week(label: str) -> Period:
    match = _WEEK.match(label)
    if not match:
        raise PeriodError(f"--week must look like 2026-W47 (ISO year, W, week number); got {label!r}")
    year, week = int(match[1]), int(match[2])
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        raise PeriodError(f"--week {label!r}: {year} has no ISO week {week}") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=UTC)
    return Period(start, start + timedelta(days=7), label)


def last_complete_week(now: datetime) -> Period:
    """The ISO week (Monday to Monday, UTC) before the one `now` falls in."""
    year, week, _ = (now.astimezone(UTC) - timedelta(days=7)).isocalendar()
    return iso_week(f"{year}-W{week:02d}")


def since(spec: str, now: datetime) -> Period:
    match = _SINCE.match(spec)
    if not match:
        raise PeriodError(f"--since must be a number and a unit m, h or d (e.g. 90m, 24h, 7d); got {spec!r}")
    amount = int(match[1])
    if amount == 0:
        raise PeriodError("--since must be longer than 0")
    end = now.astimezone(UTC)
    return Period(end - timedelta(**{_UNITS[match[2]]: amount}), end, f"{spec} to {end:%Y-%m-%d %H:%M} UTC")
