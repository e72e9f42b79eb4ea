"""When the snapshot loop runs: every N minutes from the New York Stock Exchange's open to its
close, on its sessions only. Holidays and half days (13:00 closes) come from `exchange_calendars`
(calendar XNYS), a maintained library, rather than a list kept here."""

import asyncio
import warnings
from datetime import date, datetime, timedelta

EXCHANGE = "XNYS"
# The hours are read for a window around the dates asked about; read again when they leave it.
PAST_DAYS, FUTURE_DAYS = 30, 400
# Longer than any run of closed days (a weekend plus holidays)
LOOKAHEAD_DAYS = 10


class MarketSchedule:
    def __init__(self, interval_minutes: int) -> None:
        self.interval = timedelta(minutes=interval_minutes)
        # session day -> (open, close) in UTC, for a window around the dates asked about
        self._hours: dict[date, tuple[datetime, datetime]] = {}
        self._window: tuple[date, date] | None = None

    def _load(self, day: date) -> None:
        import exchange_calendars  # pandas underneath: loaded only when a loop runs

        start, end = day - timedelta(days=PAST_DAYS), day + timedelta(days=FUTURE_DAYS)
        # exchange_calendars 4.13 trips this pandas 3.1 deprecation while building; nothing to act on
        # here. A standing filter: catch_warnings is not thread-safe and this runs in a thread.
        warnings.filterwarnings(
            "ignore", message="Series.values returning an ndarray", category=DeprecationWarning
        )
        sessions = exchange_calendars.get_calendar(EXCHANGE, start=start.isoformat(), end=end.isoformat())
        table = sessions.schedule
        self._hours = {
            d.date(): (o.to_pydatetime(), c.to_pydatetime())
            for d, o, c in zip(table.index, table["open"], table["close"], strict=True)
        }
        self._window = (start, end)

    def _covers(self, day: date) -> bool:
        return self._window is not None and self._window[0] <= day <= self._window[1]

    async def ready(self, moment: datetime) -> None:
        """Load the hours around `moment` in a thread when needed: importing pandas and building
        the calendar takes seconds, which must not stall the service's event loop."""
        first, last = moment.date() - timedelta(days=1), moment.date() + timedelta(days=LOOKAHEAD_DAYS)
        if not (self._covers(first) and self._covers(last)):
            await asyncio.to_thread(self._load, first)

    def session_hours(self, day: date) -> tuple[datetime, datetime] | None:
        """(open, close) in UTC for a session day, None when the exchange is closed."""
        if not self._covers(day):
            self._load(day)
        return self._hours.get(day)

    def cycles_on(self, day: date) -> list[datetime]:
        """Scheduled cycle times of one day: the open, every interval after it, the close included
        when it falls on the grid (a closing snapshot)."""
        hours = self.session_hours(day)
        if hours is None:
            return []
        opens, closes = hours
        count = int((closes - opens) / self.interval) + 1
        return [opens + i * self.interval for i in range(count)]

    def next_after(self, moment: datetime) -> datetime:
        """The first scheduled cycle strictly after `moment`."""
        day = moment.date() - timedelta(days=1)  # UTC date; a session never spans two UTC days back
        for offset in range(LOOKAHEAD_DAYS + 1):
            for cycle in self.cycles_on(day + timedelta(days=offset)):
                if cycle > moment:
                    return cycle
        raise RuntimeError(f"no {EXCHANGE} session within {LOOKAHEAD_DAYS} days after {moment.isoformat()}")

    def due(self, moment: datetime) -> datetime | None:
        """The latest cycle at or before `moment` that is still worth running (less than one
        interval late); None when none is."""
        day = moment.date()
        for candidate_day in (day, day - timedelta(days=1)):
            past = [c for c in self.cycles_on(candidate_day) if c <= moment]
            if past:
                return past[-1] if moment - past[-1] < self.interval else None
        return None
