from datetime import UTC, datetime

import pytest

from app.ops.review.periods import PeriodError, iso_week, last_complete_week, since


def test_iso_week_runs_monday_to_monday_utc() -> None:
    week = iso_week("2026-W46")
    assert (week.start, week.end) == (
        datetime(2026, 11, 9, tzinfo=UTC),
        datetime(2026, 11, 16, tzinfo=UTC),
    ), week


def test_last_complete_week_crosses_the_year() -> None:
    # Monday 2027-01-04 is in 2027-W01, so the last complete week is 2026-W53.
    assert last_complete_week(datetime(2027, 1, 4, 9, tzinfo=UTC)).label == "2026-W53"
    assert last_complete_week(datetime(2026, 11, 25, tzinfo=UTC)).label == "2026-W47"


@pytest.mark.parametrize(
    ("spec", "needle"), [("2026-47", "must look like"), ("2025-W53", "has no ISO week 53")]
)
def test_bad_weeks_are_named(spec: str, needle: str) -> None:
    with pytest.raises(PeriodError, match=needle):
        iso_week(spec)


def test_since_accepts_minutes_hours_days_only() -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    assert since("90m", now).start == datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert since("7d", now).start == datetime(2026, 11, 18, 12, tzinfo=UTC)
    for bad in ("24", "1w", "0h", "-1h"):
        with pytest.raises(PeriodError, match="--since"):
            since(bad, now)
