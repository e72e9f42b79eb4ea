"""Edge cases with hand-made bars whose right answer is known exactly: gaps, halts, symbols
without bars, duplicate snapshots, exchange time vs UTC, horizons past the data."""

import shutil
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from backtests.store import DataRoot
from tests.backtests.helpers import (
    daily_bars,
    fills,
    ny,
    proven_unique,
    reasons,
    run_score,
    session_bars,
    snapshots,
)

DAY = date(2024, 3, 11)  # the Monday after US daylight saving time began


def snap(ts, horizon="5m", symbol="XYZ", price=100.0, direction=1, probability=0.6) -> dict:
    return {
        "symbol": symbol,
        "ts": ts,
        "horizon": horizon,
        "direction": direction,
        "probability": probability,
        "price": price,
    }


def test_gap_in_bars_uses_the_last_bar_before_the_horizon_end(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106, 107], skip={3, 4, 5})
    snapshots(root, [snap(ny(DAY, 9, 31, 10))])  # bar 0 (09:30-09:31) is the latest at 09:31:10
    scores = run_score(tmp_path)
    # ts + 5m = 09:36:10: bars 3-5 (ending 09:34-09:36) are missing, bar 2 ended 09:33 at 102
    assert scores.overall["n"] == 1, reasons(scores)
    assert scores.overall["ev_real"] == pytest.approx(102 / 100 - 1)


def test_exit_is_the_bar_ending_at_the_horizon_not_the_one_starting_there(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106, 107])
    snapshots(root, [snap(ny(DAY, 9, 31), direction=-1)])
    scores = run_score(tmp_path)
    # 09:31 + 5m = 09:36: the bar starting 09:35 (index 5) ends exactly then
    assert scores.overall["ev_real"] == pytest.approx(-(105 / 100 - 1))
    assert scores.overall["hits"] == 0


def test_halt_with_no_bar_inside_the_horizon_is_not_scored(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100.0 + i for i in range(40)], skip=set(range(3, 30)))
    snapshots(root, [snap(ny(DAY, 9, 33, 30)), snap(ny(DAY, 9, 31, 0))])
    scores = run_score(tmp_path)
    assert reasons(scores) == {"no_bars_in_horizon": 1, "scored": 1}
    assert scores.overall["ev_real"] == pytest.approx(102 / 100 - 1), "the pre-halt bar is the mark"


def test_symbol_without_bars_is_reported_not_scored(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, [snap(ny(DAY, 9, 31)), snap(ny(DAY, 9, 31), symbol="NOPE")])
    scores = run_score(tmp_path)
    assert reasons(scores) == {"symbol_without_bars": 1, "scored": 1}
    assert [r["symbol"] for r in scores.groups["symbol"]] == ["XYZ"]


def test_duplicate_snapshots_count_once(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, [snap(ny(DAY, 9, 31)), snap(ny(DAY, 9, 31)), snap(ny(DAY, 9, 32))])
    scores = run_score(tmp_path)
    assert (scores.overall["n"], scores.duplicates) == (2, 1)
    kept = run_score(tmp_path, drop_duplicates=False)
    assert (kept.overall["n"], kept.duplicates) == (3, 0)
    assert not proven_unique(root), "a file written with a repeated key must not claim there are none"


def test_repeats_across_files_that_each_claim_none_are_still_found(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, [snap(ny(DAY, 9, 31)), snap(ny(DAY, 9, 32))])
    assert proven_unique(root), "files written without repeats say so, and scoring skips the check"
    (written,) = (tmp_path / "features").rglob("*.parquet")
    shutil.copy(written, written.with_name("copy.parquet"))  # same rows, same claim, same folder
    assert not proven_unique(root), "overlapping files cannot prove anything"
    scores = run_score(tmp_path)
    assert (scores.overall["n"], scores.duplicates) == (2, 2)


def test_a_file_without_the_claim_is_checked(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, [snap(ny(DAY, 9, 31))])
    folder = tmp_path / "features" / "symbol=XYZ" / f"date={DAY + timedelta(days=1)}"
    folder.mkdir()
    table = pq.read_table(next((tmp_path / "features").rglob("*.parquet")))  # a plain copy, another day
    pq.write_table(table.replace_schema_metadata(None), folder / "other-tool.parquet")
    assert not proven_unique(root)
    assert run_score(tmp_path).duplicates == 1, "the copy repeats the first file's row"


def test_daily_horizon_uses_exchange_time_sessions(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    # Polygon stamps daily bars at midnight New York: 05:00 UTC in winter, 04:00 UTC after the DST switch
    daily_bars(root, "XYZ", {date(2024, 3, 8): 10.0, DAY: 11.0, DAY + timedelta(days=1): 12.0})
    snapshots(
        root,
        [
            snap(ny(DAY, 15, 30), "1d", price=10.5),  # 19:30 UTC, before the close: runs to today's close
            snap(ny(DAY, 16, 30), "1d", price=10.5),  # 20:30 UTC, after it: the next session's close
            snap(ny(date(2024, 3, 10), 12, 0), "1d", price=10.5),  # a Sunday: Monday's close
        ],
    )
    scores = run_score(tmp_path)
    by_hour = {r["hour"]: r["ev_real"] for r in scores.groups["hour"]}
    assert by_hour == pytest.approx({15: 11 / 10.5 - 1, 16: 12 / 10.5 - 1, 12: 11 / 10.5 - 1}), by_hour


def test_minute_bars_across_daylight_saving(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    friday = date(2024, 3, 8)
    session_bars(root, "XYZ", friday, [50, 51, 52, 53, 54, 55, 56])  # 14:30 UTC
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])  # 13:30 UTC
    snapshots(root, [snap(ny(friday, 9, 31), price=50.0), snap(ny(DAY, 9, 31))])
    scores = run_score(tmp_path)
    assert {r["day"]: r["ev_real"] for r in scores.groups["day"]} == pytest.approx(
        {friday: 55 / 50 - 1, DAY: 105 / 100 - 1}
    )
    assert [r["hour"] for r in scores.groups["hour"]] == [9], "hour buckets are exchange time"


def test_horizon_past_the_last_bar_is_not_scored(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, [snap(ny(DAY, 9, 31)), snap(ny(DAY, 9, 33), "60m")])
    scores = run_score(tmp_path)
    assert reasons(scores) == {"horizon_after_last_bar": 1, "scored": 1}


def test_invalid_rows_are_reported(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(
        root,
        [snap(ny(DAY, 9, 31)), snap(ny(DAY, 9, 32), price=0.0), snap(ny(DAY, 9, 33), probability=1.5)],
    )
    assert reasons(run_score(tmp_path)) == {"invalid_price": 1, "invalid_probability": 1, "scored": 1}


def test_date_range_selects_exchange_dates(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    friday = date(2024, 3, 8)
    session_bars(root, "XYZ", friday, [50, 51, 52, 53, 54, 55, 56])
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, [snap(ny(friday, 9, 31), price=50.0), snap(ny(DAY, 9, 31))])
    scores = run_score(tmp_path, start=DAY, end=DAY)
    assert scores.overall["n"] == 1 and scores.overall["ev_real"] == pytest.approx(0.05)
    assert (scores.rows_read, scores.duplicates) == (1, 0), "rows outside the range must not be counted"


def test_fill_matches_the_latest_snapshot_of_its_window(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    sunday = DAY - timedelta(days=1)
    snapshots(
        root,
        [
            snap(ny(sunday, 23, 58), price=100.0),  # before the range, 3 minutes before the first fill
            snap(ny(DAY, 9, 31), price=150.0),  # 6.5 minutes before the second fill: outside its window
            snap(ny(DAY, 9, 35), price=200.0),
            snap(ny(DAY, 9, 37, 40), price=300.0),  # after the second fill
        ],
    )
    fills(root, [("XYZ", ny(DAY, 0, 1), "buy", 100.1), ("XYZ", ny(DAY, 9, 37, 30), "sell", 199.0)])
    scores = run_score(tmp_path, start=DAY)
    (spread,) = [r for r in scores.slippage if r["kind"] == "spread"]
    # buy 10 bps above 100 (the day before's snapshot still counts for it), sell 50 bps below 200
    assert (spread["fills"], spread["observed_bps"]) == (2, pytest.approx(30.0)), scores.slippage
    assert scores.rows_read == 3, "the snapshot before the range is only there for the fill"
