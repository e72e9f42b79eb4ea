"""`trader data bars` against the local Polygon stand-in (tests/fakes/polygon.py) through the
service's real PolygonClient and HTTP policy: incremental, partitioned, survives 429s."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from app.cli import cli
from backtests.bars import ranges, weekdays
from tests.fakes.faults import Fault
from tests.fakes.polygon import API_KEY, FakePolygon, close_on
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
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    return {
        t.astimezone(ny).date(): c
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
    _, env = polygon  # the stand-in serves daily bars only, and says so with a 400
    result = _bars(tmp_path, "--symbols", "SPY", "--start", "2024-01-02", "--timespan", "minute", env=env)
    assert result.exit_code == 1 and "polygon" in result.output, result.output


def test_weekday_ranges_bridge_weekends() -> None:
    days = weekdays(date(2024, 1, 4), date(2024, 1, 16))
    assert ranges([d for d in days if d != date(2024, 1, 10)]) == [
        (date(2024, 1, 4), date(2024, 1, 9)),
        (date(2024, 1, 11), date(2024, 1, 16)),
    ]
