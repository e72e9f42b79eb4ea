"""`trader logs ship` against real SeaweedFS; `docker` is the stand-in in tests/logs/fake_docker.py
(no Docker engine here). Completed days become one gzip NDJSON object per container and day, a
re-run ships nothing twice, and a wrong container name fails naming LOGS_CONTAINERS."""

import gzip
import json
import os
import stat
import sys
from datetime import date
from pathlib import Path

import pytest

from app.ops.logs import LogsError
from app.ops.logs.containers import ship
from app.ops.logs.settings import LogsSettings
from app.ops.logs.textfile import SHIP_FILE
from tests.logs.helpers import bucket_objects, call
from tests.support.s3 import SeaweedS3

TODAY = date(2026, 3, 1)
APP_LINES = [
    [
        "2026-02-27T09:30:00.123456789Z",
        "stdout",
        json.dumps({"event": "request", "route": "/a", "latency_ms": 5.0}),
    ],
    [
        "2026-02-27T23:59:59.999999999Z",
        "stdout",
        json.dumps({"event": "request", "route": "/b", "latency_ms": 9.5}),
    ],
    [
        "2026-02-28T00:00:00.000001000Z",
        "stdout",
        json.dumps({"event": "request", "route": "/a", "latency_ms": 7.0}),
    ],
    ["2026-03-01T08:00:00.5Z", "stdout", json.dumps({"event": "request", "route": "/a", "latency_ms": 1.0})],
]
DB_LINES = [
    ["2026-02-28T03:00:00.000000001Z", "stderr", "LOG:  checkpoint starting: time"],
    ["2026-02-28T03:00:00.000000002Z", "stdout", "plain line on stdout"],
]


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`docker` on PATH running fake_docker.py with this interpreter; returns the calls file."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    script = Path(__file__).parent / "fake_docker.py"
    docker.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    logs = tmp_path / "docker-logs.json"
    logs.write_text(json.dumps({"app": APP_LINES, "db": DB_LINES, "caddy": []}))
    calls = tmp_path / "docker-calls.ndjson"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOGS", str(logs))
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(calls))
    return calls


def read_object(s3: SeaweedS3, bucket: str, key: str) -> list[dict]:
    body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def test_completed_days_become_one_object_per_container_and_day(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: Path
) -> None:
    result = ship(settings.model_copy(update={"ship_days": 3}), today=TODAY)

    assert settings.s3_bucket
    keys = sorted(bucket_objects(s3_server, settings.s3_bucket))
    assert keys == [
        "trader/containers/date=2026-02-27/app.ndjson.gz",
        "trader/containers/date=2026-02-28/app.ndjson.gz",
        "trader/containers/date=2026-02-28/db.ndjson.gz",
    ], "one object per container and day with lines; today is not complete yet"
    assert result.lines == 5, result
    assert read_object(s3_server, settings.s3_bucket, keys[0]) == [
        {
            "ts": "2026-02-27T09:30:00.123456Z",
            "container": "app",
            "stream": "stdout",
            "line": APP_LINES[0][2],
        },
        {
            "ts": "2026-02-27T23:59:59.999999Z",
            "container": "app",
            "stream": "stdout",
            "line": APP_LINES[1][2],
        },
    ]
    db = read_object(s3_server, settings.s3_bucket, keys[2])
    assert [(r["stream"], r["line"]) for r in db] == [
        ("stderr", DB_LINES[0][2]),
        ("stdout", DB_LINES[1][2]),
    ], "both streams kept, in time order"
    days = {json.loads(c)[3][:10] for c in fake_docker.read_text().splitlines()}
    assert days == {"2026-02-26", "2026-02-27", "2026-02-28"}, f"LOGS_SHIP_DAYS=3 looks back 3 days: {days}"


def test_a_rerun_ships_nothing_twice_and_today_is_overwritten_later(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: Path
) -> None:
    assert settings.s3_bucket
    settings = settings.model_copy(update={"ship_days": 2})
    ship(settings, today=TODAY)
    before = bucket_objects(s3_server, settings.s3_bucket)
    fake_docker.write_text("")

    again = ship(settings, today=TODAY)

    assert again.lines == 0 and fake_docker.read_text() == "", "completed days are not read again"
    assert bucket_objects(s3_server, settings.s3_bucket) == before

    partial = ship(settings, today=TODAY, include_today=True)
    assert partial.objects == ["trader/containers/date=2026-03-01/app.ndjson.gz"], partial
    tomorrow = ship(settings, today=date(2026, 3, 2))
    assert tomorrow.objects == partial.objects, "the next day's run rewrites today's object whole"
    assert len(bucket_objects(s3_server, settings.s3_bucket)) == 4, "27th (app), 28th (app, db), 1st (app)"


def test_an_unknown_container_fails_naming_the_setting(settings: LogsSettings, fake_docker: Path) -> None:
    settings = settings.model_copy(update={"containers": ["app", "trader-api"]})
    with pytest.raises(LogsError, match="LOGS_CONTAINERS") as failure:
        ship(settings, today=TODAY)
    assert "No such container: trader-api" in str(failure.value)


def test_the_command_records_its_outcome_for_node_exporter(settings: LogsSettings, fake_docker: Path) -> None:
    assert settings.textfile_dir
    code, out = call(settings, "ship")
    assert code == 0 and "shipped 0 lines" in out, out  # the fake's lines are all in February
    ok = (settings.textfile_dir / SHIP_FILE).read_text()
    assert "logs_ship_last_run_success 1.0" in ok and "logs_ship_last_success_timestamp_seconds" in ok, ok

    code, out = call(settings.model_copy(update={"containers": ["gone"]}), "ship")
    assert code == 1 and "LOGS_CONTAINERS" in out, out
    failed = (settings.textfile_dir / SHIP_FILE).read_text()
    assert "logs_ship_last_run_success 0.0" in failed, failed
    assert "logs_ship_last_success_timestamp_seconds" in failed, "a failure keeps the last success time"
