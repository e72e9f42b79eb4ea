"""`trader data bars` against the local Polygon stand-in (tests/fakes/polygon.py) through the
service's real PolygonClient and HTTP policy: incremental, partitioned, survives 429s; minute
bars downloaded through it score snapshots."""

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from app.cli import cli
from backtests.bars import ranges, weekdays
from backtests.store import DataRoot
from tests.backtests.helpers import ny, reasons, run_score, snapshots
from tests.fakes.faults import Fault
from tests.fakes.polygon import API_KEY, FakePolygon, close_at, close_on, minutes_traded
from tests.fakes.server import serve


@pytest.fixture
def polygon() -> Iterator[tuple[FakePolygon, dict[str, str]]]:
    fake = FakePolygon(plan="starter")
    with serve(fake.app) as url:
        env = {"POLYGON_API_KEY": API_KEY, "POLYGON_BASE_URL": url, "POLYGON_API_RATE": "6000"}
        yield fake, env


def _bars(data: Path, *args: str, env: dict[str, str]) -> object:
    return CliRunner().invoke(cli, ["data", "bars", "--data", str(data), *args], env=env)


def _stored(data: Path, symbol: str) -> dict[date, float]:
    table = pq.read_table(data / "bars/timespan=day" / f"symbol={symbol}", partitioning=None)
    tz = ZoneInfo("America/New_York")
    return {
        t.astimezone(tz).date(): c
        for t, c in zip(table["ts"].to_pylist(), table["close"].to_pylist(), strict=True)
    }


def test_daily_bars_are_stored_by_symbol_and_year(polygon: tuple, tmp_path: Path) -> None:
    _, env = polygon
    result = _bars(tmp_path, "--symbols", "SPY,AAPL", "--start", "2023-12-27", "--end", "2024-01-05", env=env)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "bars/timespan=day/symbol=SPY").iterdir()) == [
        "year=2023",
        "year=2024",
    ]
    stored = _stored(tmp_path, "SPY")
    assert stored == {d: close_on("SPY", d) for d in weekdays(date(2023, 12, 27), date(2024, 1, 5))}


def test_second_run_fetches_only_missing_days(polygon: tuple, tmp_path: Path) -> None:
    fake, env = polygon
    assert (
        _bars(tmp_path, "--symbols", "SPY", "--start", "2024-01-02", "--end", "2024-01-12", env=env).exit_code
        == 0
    )
    before = len(fake.requests)
    result = _bars(tmp_path, "--symbols", "SPY", "--start", "2024-01-02", "--end", "2024-01-19", env=env)
    assert result.exit_code == 0, result.output
    new = [path for path, _, _ in fake.requests[before:]]
    assert new == ["/v2/aggs/ticker/SPY/range/1/day/2024-01-15/2024-01-19"], new
    assert len(_stored(tmp_path, "SPY")) == 14, "the year file must keep the days it had"
    again = len(fake.requests)
    assert (
        _bars(tmp_path, "--symbols", "SPY", "--start", "2024-01-02", "--end", "2024-01-19", env=env).exit_code
        == 0
    )
    assert len(fake.requests) == again, "nothing missing: no request"


def test_rate_limited_answers_are_retried(polygon: tuple, tmp_path: Path) -> None:
    fake, env = polygon
    fake.faults.add(Fault(429, {"status": "ERROR"}, {"Retry-After": "1"}, path_contains="/v2/aggs/"), times=2)
    result = _bars(tmp_path, "--symbols", "QQQ", "--start", "2024-01-02", "--end", "2024-01-05", env=env)
    assert result.exit_code == 0, result.output
    assert len(_stored(tmp_path, "QQQ")) == 4
    assert fake.calls("/v2/aggs/ticker/QQQ") == 3, "two 429s then the answer"


def test_missing_api_key_is_named(tmp_path: Path) -> None:
    result = _bars(
        tmp_path,
        "--symbols",
        "SPY",
        "--start",
        "2024-01-02",
        env={"POLYGON_API_KEY": "", "POLYGON_BASE_URL": "http://127.0.0.1:9"},
    )
    assert result.exit_code == 1 and "POLYGON_API_KEY" in result.output, result.output


def test_provider_refusal_fails_the_command(polygon: tuple, tmp_path: Path) -> None:
    fake, env = polygon  # a plan without minute aggregates: Polygon answers 403 NOT_AUTHORIZED
    refusal = {"status": "NOT_AUTHORIZED", "message": "You are not entitled to this data."}
    fake.faults.add(Fault(403, refusal, path_contains="/range/1/minute/"))
    result = _bars(tmp_path, "--symbols", "SPY", "--start", "2024-01-02", "--timespan", "minute", env=env)
    assert result.exit_code == 1 and "polygon" in result.output, result.output
    assert not (tmp_path / "bars/timespan=minute").exists(), "nothing may be stored after a refusal"


def test_minute_bars_are_stored_by_symbol_and_exchange_date(polygon: tuple, tmp_path: Path) -> None:
    fake, env = polygon
    fake.page_size = 500  # a day has 447 bars: three days take three pages
    args = ("--symbols", "SPY", "--start", "2024-03-07", "--end", "2024-03-11", "--timespan", "minute")
    result = _bars(tmp_path, *args, env=env)
    assert result.exit_code == 0, result.output
    days = weekdays(date(2024, 3, 7), date(2024, 3, 11))  # spans the switch to daylight saving time
    assert fake.calls("/range/1/minute/") == 3, fake.requests
    folder = tmp_path / "bars/timespan=minute/symbol=SPY"
    assert sorted(p.name for p in folder.iterdir()) == [f"date={d}" for d in days]
    tz = ZoneInfo("America/New_York")
    for day in days:
        table = pq.read_table(folder / f"date={day}", partitioning=None)
        stored = {
            t.astimezone(tz): c
            for t, c in zip(*table.select(["ts", "close"]).to_pydict().values(), strict=True)
        }
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        expected = {midnight + timedelta(minutes=m): close_at("SPY", day, m) for m in minutes_traded(day)}
        assert stored == expected, f"{day}: stored minute bars differ from what Polygon served"
    assert _bars(tmp_path, *args, env=env).exit_code == 0
    assert fake.calls("/range/1/minute/") == 3, "every day is stored: the second run asks for nothing"


def test_downloaded_minute_bars_score_snapshots(polygon: tuple, tmp_path: Path) -> None:
    _, env = polygon
    day = date(2024, 3, 11)
    result = _bars(
        tmp_path, "--symbols", "SPY", "--start", str(day), "--end", str(day), "--timespan", "minute", env=env
    )
    assert result.exit_code == 0, result.output
    regular = {
        "symbol": "SPY",
        "ts": ny(day, 10, 0, 30),
        "horizon": "15m",
        "direction": 1,
        "probability": 0.6,
    }
    # pre-market bars come every 10 minutes: 08:03 + 15m = 08:18 is marked by the 08:10 bar (ends 08:11)
    early = {**regular, "ts": ny(day, 8, 3), "direction": -1}
    snapshots(
        DataRoot(str(tmp_path)),
        [{**regular, "price": close_at("SPY", day, 599)}, {**early, "price": close_at("SPY", day, 480)}],
    )
    scores = run_score(tmp_path)
    assert reasons(scores) == {"scored": 2}, reasons(scores)
    by_hour = {r["hour"]: r["ev_real"] for r in scores.groups["hour"]}
    expected = {
        10: close_at("SPY", day, 614) / close_at("SPY", day, 599) - 1,  # the bar 10:14-10:15
        8: -(close_at("SPY", day, 490) / close_at("SPY", day, 480) - 1),
    }
    assert by_hour == pytest.approx(expected), by_hour


def test_weekday_ranges_bridge_weekends() -> None:
    days = weekdays(date(2024, 1, 4), date(2024, 1, 16))
    assert ranges([d for d in days if d != date(2024, 1, 10)]) == [
        (date(2024, 1, 4), date(2024, 1, 9)),
        (date(2024, 1, 11), date(2024, 1, 16)),
    ]
