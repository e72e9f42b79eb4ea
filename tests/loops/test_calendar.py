"""The market-hours schedule from the XNYS calendar: full day, holiday, half day, weekend."""

import itertools
from datetime import date, timedelta

from app.loops.calendar import MarketSchedule
from tests.loops.helpers import FRI, THU, WED, at


def test_full_day_runs_from_the_open_to_the_close_included() -> None:
    cycles = MarketSchedule(15).cycles_on(WED.date())
    assert cycles[0] == at(WED, 14, 30), "09:30 New York (EST) is 14:30 UTC"
    assert cycles[-1] == at(WED, 21, 0), "the 16:00 close falls on the grid: a closing snapshot"
    assert len(cycles) == 27 and all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(cycles))


def test_thanksgiving_has_no_cycle() -> None:
    assert MarketSchedule(15).cycles_on(THU.date()) == [], "XNYS is closed on Thanksgiving"


def test_black_friday_ends_at_the_1pm_close() -> None:
    cycles = MarketSchedule(15).cycles_on(FRI.date())
    assert cycles[0] == at(FRI, 14, 30) and cycles[-1] == at(FRI, 18, 0), (
        f"half day: 09:30-13:00 ET, got {cycles}"
    )
    assert len(cycles) == 15


def test_after_wednesdays_close_the_next_cycle_is_fridays_open() -> None:
    schedule = MarketSchedule(15)
    assert schedule.next_after(at(WED, 21, 0)) == at(FRI, 14, 30), "Thursday is a holiday"
    assert schedule.next_after(at(FRI, 18, 0)) == at(FRI + timedelta(days=3), 14, 30), "then the weekend"


def test_a_cycle_is_due_only_until_the_next_one() -> None:
    schedule = MarketSchedule(15)
    assert schedule.due(at(WED, 14, 44)) == at(WED, 14, 30)
    assert schedule.due(at(WED, 14, 45)) == at(WED, 14, 45)
    assert schedule.due(at(WED, 21, 20)) is None, "20 minutes after the close: nothing left to run"
    assert schedule.due(at(THU, 15, 0)) is None, "a holiday has nothing due"


def test_summer_time_moves_the_open_in_utc() -> None:
    assert MarketSchedule(30).cycles_on(date(2026, 7, 1))[0] == at(WED.replace(month=7, day=1), 13, 30)
