"""Bad input fails with one error type that names the file, column, key or value to fix."""

from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from backtests.errors import BacktestInputError
from backtests.layout import FEATURES
from backtests.store import DataRoot, S3Options
from tests.backtests.helpers import daily_bars, ny, run_score, session_bars, snapshots

DAY = date(2024, 3, 11)


def _one(horizon: str = "5m") -> list[dict]:
    return [
        {
            "symbol": "XYZ",
            "ts": ny(DAY, 9, 31),
            "horizon": horizon,
            "direction": 1,
            "probability": 0.6,
            "price": 100.0,
        }
    ]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102])
    root.write(
        FEATURES,
        pa.table(
            {
                "ts": pa.array([ny(DAY, 9, 31)]),
                "horizon": ["5m"],
                "price": [1.0],
                "symbol": ["XYZ"],
                "date": [DAY],
            }
        ),
    )
    with pytest.raises(BacktestInputError) as err:
        run_score(tmp_path)
    assert err.value.missing == ("direction", "probability", "expected_value")
    assert "features" in str(err.value) and "probability" in str(err.value)


def test_empty_range_says_so(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102])
    snapshots(root, _one())
    with pytest.raises(
        BacktestInputError, match=r"no snapshots between 2025-01-01 and 2025-02-01.*--start/--end"
    ):
        run_score(tmp_path, start=date(2025, 1, 1), end=date(2025, 2, 1))


def test_no_snapshots_at_all(tmp_path: Path) -> None:
    session_bars(DataRoot(str(tmp_path)), "XYZ", DAY, [100, 101, 102])
    with pytest.raises(BacktestInputError, match="no snapshot files: run `trader data export`"):
        run_score(tmp_path)


def test_corrupt_parquet_file_is_named(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102, 103, 104, 105, 106])
    snapshots(root, _one())
    bad = tmp_path / "bars/timespan=minute/symbol=XYZ/date=2024-03-11/part-0.parquet"
    assert bad.exists(), "the store layout changed: update this test"
    bad.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(BacktestInputError) as err:
        run_score(tmp_path)
    assert str(bad) in str(err.value), str(err.value)


def test_horizon_without_bars_names_what_to_fetch(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    daily_bars(root, "XYZ", {DAY: 10.0})
    snapshots(root, _one("15m"))
    with pytest.raises(BacktestInputError, match=r"bars/timespan=minute.*horizon '15m' needs minute bars"):
        run_score(tmp_path)


def test_unknown_horizon_label(tmp_path: Path) -> None:
    root = DataRoot(str(tmp_path))
    session_bars(root, "XYZ", DAY, [100, 101, 102])
    snapshots(root, _one("15x"))
    with pytest.raises(BacktestInputError, match=r"horizon '15x' is not one of Nm, Nh, Nd"):
        run_score(tmp_path)


def test_s3_without_credentials_names_the_variables() -> None:
    with pytest.raises(BacktestInputError, match="AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"):
        DataRoot("s3://bucket/data", S3Options(endpoint="http://127.0.0.1:1"))


def test_other_url_schemes_are_refused() -> None:
    with pytest.raises(BacktestInputError, match="local folder or an s3://"):
        DataRoot("gs://bucket/data")
