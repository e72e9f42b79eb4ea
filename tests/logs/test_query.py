"""`trader logs query` (the real command, in-process) over what archive and ship put in the bucket:
the three ready queries, free SQL, the same answers from a local copy, and errors that name the
fix."""

import csv
import io
import json
from pathlib import Path

import pytest

from app.ops.localpg import PostgresServer
from app.ops.logs.archive import archive
from app.ops.logs.containers import to_ndjson_gz
from app.ops.logs.settings import LogsSettings
from app.ops.logs.store import LogStore
from tests.logs.helpers import NOW, OLD_DAYS, call, logs_settings, new_bucket, record, write_through_service
from tests.support.s3 import SeaweedS3

D1, D2 = OLD_DAYS[0], OLD_DAYS[1]


def provider(day, status: str, level: str = "warning") -> dict:
    return record(day, source="providers", level=level, payload={"provider": "polygon", "status": status})


def request_line(route: str, latency: float, status: int = 200) -> str:
    return json.dumps({"event": "request", "route": route, "latency_ms": latency, "status": status})


@pytest.fixture(scope="module")
async def filled(
    pg_server: PostgresServer, s3_server: SeaweedS3, tmp_path_factory: pytest.TempPathFactory
) -> LogsSettings:
    """Archived rows with known errors and provider outcomes, and one day of shipped app logs;
    built once for the module (the queries only read)."""
    settings = logs_settings(
        pg_server.createdb("logs_query"), s3_server, new_bucket(s3_server), tmp_path_factory.mktemp("q")
    )
    await write_through_service(
        settings.database_url,
        [provider(D1, s) for s in ("200", "429", "503", "503", "timeout", "404")]
        + [record(D1, level="error", source="orders"), record(D2, level="critical", source="orders")]
        + [record(D2, level="warning", source="strategy.x"), record(D2, level="info", source="strategy.x")],
    )
    await archive(settings, now=NOW)
    lines = [("/api/v1/trades", 10.0 + i) for i in range(10)] + [
        ("/api/v1/logs", 100.0 + i) for i in range(10)
    ]
    records = [
        {
            "ts": f"2026-02-10T10:00:{i:02d}Z",
            "container": "app",
            "stream": "stdout",
            "line": request_line(r, ms),
        }
        for i, (r, ms) in enumerate(lines)
    ] + [{"ts": "2026-02-10T11:00:00Z", "container": "app", "stream": "stderr", "line": "not json {"}]
    store = LogStore(settings)
    store.put(store.key("containers", "date=2026-02-10", "app.ndjson.gz"), to_ndjson_gz(records), "x")
    return settings


def csv_rows(output: str) -> list[list[str]]:
    """Data rows of `--csv` output (after the header)."""
    return list(csv.reader(io.StringIO(output)))[1:]


def test_errors_by_source_per_day(filled: LogsSettings) -> None:
    code, out = call(filled, "query", "--csv", "--ready", "errors-by-source")
    assert code == 0, out
    got = [row[:4] for row in csv_rows(out)]
    assert got == [
        ["2026-02-10", "orders", "1", "0"],
        ["2026-02-10", "providers", "0", "6"],
        ["2026-02-12", "orders", "1", "0"],
        ["2026-02-12", "strategy.x", "0", "1"],
    ], f"date, source, errors, warnings:\n{out}"


def test_provider_failures_leave_out_successes_and_rate_limits(filled: LogsSettings) -> None:
    code, out = call(filled, "query", "--csv", "--ready", "provider-failures")
    assert code == 0, out
    assert csv_rows(out) == [
        ["2026-02-10", "polygon", "503", "2"],
        ["2026-02-10", "polygon", "404", "1"],
        ["2026-02-10", "polygon", "timeout", "1"],
    ], out


def test_slowest_routes_from_shipped_request_events(filled: LogsSettings) -> None:
    code, out = call(filled, "query", "--csv", "--ready", "slowest-routes")
    assert code == 0, out
    rows = csv_rows(out)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("/api/v1/logs", "10", "108.5"),
        ("/api/v1/trades", "10", "18.5"),
    ], f"route, requests, p95 (a non-JSON stderr line is ignored):\n{out}"


def test_free_sql_gives_the_same_answer_from_a_local_copy(
    filled: LogsSettings, s3_server: SeaweedS3, tmp_path: Path
) -> None:
    assert filled.s3_bucket
    client = s3_server.client()
    for obj in client.list_objects_v2(Bucket=filled.s3_bucket)["Contents"]:
        target = tmp_path / "copy" / obj["Key"].removeprefix("trader/")
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(filled.s3_bucket, obj["Key"], str(target))
    sql = "select level, count(*) as n from logs group by level order by level"
    code_s3, out_s3 = call(filled, "query", "--csv", sql)
    code_local, out_local = call(filled, "query", "--csv", sql, "--archive", str(tmp_path / "copy"))
    assert code_s3 == code_local == 0, out_s3 + out_local
    assert (
        csv_rows(out_s3)
        == csv_rows(out_local)
        == [["critical", "1"], ["error", "1"], ["info", "1"], ["warning", "7"]]
    )


def test_bad_sql_and_unknown_ready_query_name_the_fix(filled: LogsSettings) -> None:
    code, out = call(filled, "query", "select nope from logs")
    assert code == 1 and "query failed" in out and "container_logs" in out, out
    code, out = call(filled, "query", "--ready", "fastest")
    assert code == 1 and "errors-by-source" in out, out
