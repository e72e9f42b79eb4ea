"""`trader data export` from a real Postgres with the service's migrations applied."""

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.db.migrate import migrate_url
from backtests.store import DataRoot
from tests.backtests.helpers import proven_unique

PAYLOAD = {"direction": "up", "probability": 0.62, "expected_value": 0.004, "price": 101.5, "spread_bps": 3.0}


async def _seed(url: str, features: list[tuple], trades: list[tuple]) -> None:
    await migrate_url(url)
    conn = await asyncpg.connect(url)
    try:
        await conn.executemany(
            "insert into features (ts, symbol, horizon, payload) values ($1, $2, $3, $4::jsonb)",
            [(ts, s, h, json.dumps(p)) for ts, s, h, p in features],
        )
        await conn.executemany(
            "insert into trades (ts, symbol, side, type, qty, avg_price, tags) "
            "values ($1, $2, $3, 'market', $4, $5, $6)",
            trades,
        )
    finally:
        await conn.close()


def _export(url: str, data: Path) -> object:
    return CliRunner().invoke(cli, ["data", "export", "--database-url", url, "--data", str(data)])


def test_export_partitions_by_exchange_date_and_types_the_payload(pg_url: str, tmp_path: Path) -> None:
    late = datetime(2024, 3, 12, 2, 30, tzinfo=UTC)  # 22:30 on the 11th in New York
    down = {**PAYLOAD, "direction": "short"}
    asyncio.run(
        _seed(
            pg_url,
            [(late, "SPY", "1d", PAYLOAD), (late, "SPY", "1d", down), (late, "QQQ", "15m", PAYLOAD)],
            [(late, "SPY", "buy", 10, 101.6, ["manual"])],
        )
    )
    result = _export(pg_url, tmp_path)
    assert result.exit_code == 0, result.output
    assert "exported 2 features and 1 trades" in result.output, result.output
    spy = tmp_path / "features/symbol=SPY/date=2024-03-11"
    assert spy.is_dir(), sorted(str(p) for p in tmp_path.rglob("*.parquet"))
    rows = pq.read_table(spy, partitioning=None).to_pylist()
    assert len(rows) == 1, "a repeated (symbol, ts, horizon) is exported once"
    row = rows[0]
    assert (row["direction"], row["probability"], row["price"], row["spread_bps"]) == (
        -1,
        0.62,
        101.5,
        3.0,
    ), "the latest row (highest id) wins and the payload becomes typed columns"
    assert json.loads(row["payload"])["direction"] == "short"
    assert proven_unique(DataRoot(str(tmp_path))), "exported files must say they hold no repeats"
    trade = pq.read_table(tmp_path / "trades/symbol=SPY/date=2024-03-11", partitioning=None).to_pylist()[0]
    assert (trade["side"], trade["qty"], trade["avg_price"], trade["tags"]) == (
        "buy",
        10.0,
        101.6,
        ["manual"],
    )


def test_payload_without_required_keys_is_named(pg_url: str, tmp_path: Path) -> None:
    ts = datetime(2024, 3, 11, 15, 0, tzinfo=UTC)
    asyncio.run(
        _seed(
            pg_url,
            [(ts, "SPY", "1d", {"direction": "sideways", "probability": "high", "price": 1.0})],
            [],
        )
    )
    result = _export(pg_url, tmp_path)
    assert result.exit_code == 1, result.output
    text = " ".join(result.output.split())
    for key in ("direction", "expected_value", "probability"):
        assert key in text.split("missing:")[-1], f"{key} not named as missing/wrong: {text}"
    assert "id 1" in text, text


@pytest.mark.parametrize("bad", ["postgresql://trader@127.0.0.1:9/none"])
def test_unreachable_database_fails(bad: str, tmp_path: Path) -> None:
    result = _export(bad, tmp_path)
    assert result.exit_code == 1 and "error" in result.output, result.output
