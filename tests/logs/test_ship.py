"""`trader logs ship` against real SeaweedFS; `docker` is the stand-in in tests/logs/fake_docker.py
(no Docker engine here). Completed days become one gzip NDJSON object per Compose service and day,
read from every container of the service (found by its Compose labels, so the app container the
update starts, e.g. trader-app-2, is found), a re-run ships nothing twice, and a service without a
container fails naming LOGS_SERVICES and LOGS_COMPOSE_PROJECT."""

import gzip
import json
import os
import stat
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

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


def container(service: str, lines: list[list[str]], project: str = "trader") -> dict[str, Any]:
    """A container as tests/logs/fake_docker.py reads it: its Compose labels and its log lines."""
    return {"project": project, "service": service, "lines": lines}


# The stack as deployed, plus another Compose project's app container that must not be shipped.
STACK = {
    "trader-app-1": container("app", APP_LINES),
    "trader-db-1": container("db", DB_LINES),
    "trader-caddy-1": container("caddy", []),
    "other-app-1": container("app", [["2026-02-27T10:00:00Z", "stdout", "not ours"]], project="other"),
}


@dataclass
class FakeDocker:
    logs: Path  # FAKE_DOCKER_LOGS: the containers `docker` knows
    calls: Path  # FAKE_DOCKER_CALLS: one JSON argv per call

    def set_containers(self, containers: dict[str, dict[str, Any]]) -> None:
        self.logs.write_text(json.dumps({"containers": containers}))

    def argvs(self, command: str) -> list[list[str]]:
        calls = [json.loads(c) for c in self.calls.read_text().splitlines()] if self.calls.exists() else []
        return [c for c in calls if c[0] == command]


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDocker:
    """`docker` on PATH running fake_docker.py with this interpreter, knowing STACK."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    script = Path(__file__).parent / "fake_docker.py"
    docker.write_text(f'#!/bin/sh\nexec {sys.executable} {script} "$@"\n')
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    fake = FakeDocker(logs=tmp_path / "docker-logs.json", calls=tmp_path / "docker-calls.ndjson")
    fake.set_containers(STACK)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_DOCKER_LOGS", str(fake.logs))
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(fake.calls))
    return fake


def read_object(s3: SeaweedS3, bucket: str, key: str) -> list[dict]:
    body = s3.client().get_object(Bucket=bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]


def test_completed_days_become_one_object_per_service_and_day(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: FakeDocker
) -> None:
    result = ship(settings.model_copy(update={"ship_days": 3}), today=TODAY)

    assert settings.s3_bucket
    keys = sorted(bucket_objects(s3_server, settings.s3_bucket))
    assert keys == [
        "trader/containers/date=2026-02-27/app.ndjson.gz",
        "trader/containers/date=2026-02-28/app.ndjson.gz",
        "trader/containers/date=2026-02-28/db.ndjson.gz",
    ], "one object per service and day with lines; today is not complete yet"
    assert result.lines == 5, result
    assert read_object(s3_server, settings.s3_bucket, keys[0]) == [
        {
            "ts": "2026-02-27T09:30:00.123456Z",
            "container": "app",
            "container_name": "trader-app-1",
            "stream": "stdout",
            "line": APP_LINES[0][2],
        },
        {
            "ts": "2026-02-27T23:59:59.999999Z",
            "container": "app",
            "container_name": "trader-app-1",
            "stream": "stdout",
            "line": APP_LINES[1][2],
        },
    ], "the service's lines only: not those of another Compose project's app container"
    db = read_object(s3_server, settings.s3_bucket, keys[2])
    assert [(r["stream"], r["line"]) for r in db] == [
        ("stderr", DB_LINES[0][2]),
        ("stdout", DB_LINES[1][2]),
    ], "both streams kept, in time order"
    assert sorted(c[-3] for c in fake_docker.argvs("ps")) == [
        f"label=com.docker.compose.service={s}" for s in ("app", "caddy", "db")
    ], "each service's containers listed once, by its Compose labels"
    days = {c[3][:10] for c in fake_docker.argvs("logs")}
    assert days == {"2026-02-26", "2026-02-27", "2026-02-28"}, f"LOGS_SHIP_DAYS=3 looks back 3 days: {days}"


def test_a_rerun_ships_nothing_twice_and_today_is_overwritten_later(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: FakeDocker
) -> None:
    assert settings.s3_bucket
    settings = settings.model_copy(update={"ship_days": 2})
    ship(settings, today=TODAY)
    before = bucket_objects(s3_server, settings.s3_bucket)
    fake_docker.calls.write_text("")

    again = ship(settings, today=TODAY)

    assert again.lines == 0 and fake_docker.argvs("logs") == [], "completed days are not read again"
    assert bucket_objects(s3_server, settings.s3_bucket) == before

    partial = ship(settings, today=TODAY, include_today=True)
    assert partial.objects == ["trader/containers/date=2026-03-01/app.ndjson.gz"], partial
    tomorrow = ship(settings, today=date(2026, 3, 2))
    assert tomorrow.objects == partial.objects, "the next day's run rewrites today's object whole"
    assert len(bucket_objects(s3_server, settings.s3_bucket)) == 4, "27th (app), 28th (app, db), 1st (app)"


def test_a_day_split_by_an_app_update_ships_both_containers_lines_in_time_order(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: FakeDocker
) -> None:
    """The update starts trader-app-2 beside trader-app-1 (both log for a while), then removes
    trader-app-1; shipped before the removal, the day holds the lines of both."""
    old = [
        ["2026-02-27T08:00:00.000000001Z", "stdout", "old: first"],
        ["2026-02-27T14:00:00.000000300Z", "stderr", "old: draining"],
        ["2026-02-27T14:00:05Z", "stdout", "old: last"],
    ]
    new = [
        ["2026-02-27T13:59:58Z", "stdout", "new: starting"],
        ["2026-02-27T14:00:00.000000200Z", "stdout", "new: healthy"],
        ["2026-02-27T20:00:00Z", "stdout", "new: later"],
        ["2026-02-28T01:00:00Z", "stdout", "new: next day"],
    ]
    fake_docker.set_containers(
        STACK | {"trader-app-1": container("app", old), "trader-app-2": container("app", new)}
    )

    ship(settings.model_copy(update={"ship_days": 3}), today=TODAY)

    assert settings.s3_bucket
    day = read_object(s3_server, settings.s3_bucket, "trader/containers/date=2026-02-27/app.ndjson.gz")
    assert [(r["container_name"], r["line"]) for r in day] == [
        ("trader-app-1", "old: first"),
        ("trader-app-2", "new: starting"),
        ("trader-app-2", "new: healthy"),
        ("trader-app-1", "old: draining"),
        ("trader-app-1", "old: last"),
        ("trader-app-2", "new: later"),
    ], "both containers' lines of the day, in time order (to the nanosecond)"
    assert {r["container"] for r in day} == {"app"}, "queries filter by the service"


def test_lines_shipped_with_today_stay_after_the_update_removed_their_container(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: FakeDocker
) -> None:
    """`ship --today` before an update, as the module's docstring advises: the next day's run
    rebuilds the day from trader-app-2 and keeps what was shipped of the removed trader-app-1."""
    assert settings.s3_bucket
    settings = settings.model_copy(update={"ship_days": 1})
    key = "trader/containers/date=2026-03-01/app.ndjson.gz"
    before = [
        ["2026-03-01T08:00:00Z", "stdout", "old: morning"],
        ["2026-03-01T09:00:00Z", "stdout", "old: 9"],
    ]
    after = [
        ["2026-03-01T09:30:00Z", "stdout", "new: 9:30"],
        ["2026-03-01T18:00:00Z", "stdout", "new: evening"],
    ]
    fake_docker.set_containers(STACK | {"trader-app-1": container("app", before)})
    ship(settings, today=TODAY, include_today=True)
    fake_docker.set_containers(
        {n: c for n, c in STACK.items() if n != "trader-app-1"} | {"trader-app-2": container("app", after)}
    )

    result = ship(settings, today=date(2026, 3, 2))

    assert result.lines == 2, "only the new container's lines are read again"
    shipped = read_object(s3_server, settings.s3_bucket, key)
    assert [(r["container_name"], r["line"]) for r in shipped] == [
        ("trader-app-1", "old: morning"),
        ("trader-app-1", "old: 9"),
        ("trader-app-2", "new: 9:30"),
        ("trader-app-2", "new: evening"),
    ]
    etag = bucket_objects(s3_server, settings.s3_bucket)[key][0]
    no_state = settings.model_copy(update={"state_dir": settings.state_dir.parent / "no-state"})
    ship(no_state, today=date(2026, 3, 2))  # the day again, as after a lost state directory
    assert bucket_objects(s3_server, settings.s3_bucket)[key][0] == etag, "rebuilt again: the same bytes"


def test_a_service_without_a_container_fails_naming_the_settings(
    settings: LogsSettings, s3_server: SeaweedS3, fake_docker: FakeDocker
) -> None:
    with pytest.raises(LogsError, match="LOGS_SERVICES") as failure:
        ship(settings.model_copy(update={"services": ["app", "worker"]}), today=TODAY)
    message = str(failure.value)
    assert "'worker'" in message and "LOGS_SERVICES (now app,worker)" in message, message
    assert "LOGS_COMPOSE_PROJECT (now trader)" in message and "docker compose ps --all" in message, message
    assert settings.s3_bucket and bucket_objects(s3_server, settings.s3_bucket) == {}, (
        "every service is checked before anything ships"
    )

    with pytest.raises(LogsError, match=r"LOGS_COMPOSE_PROJECT \(now stack\)"):
        ship(settings.model_copy(update={"compose_project": "stack"}), today=TODAY)
    with pytest.raises(LogsError, match="LOGS_DOCKER_BIN=/nonexistent/docker not found"):
        ship(settings.model_copy(update={"docker_bin": "/nonexistent/docker"}), today=TODAY)


def test_the_command_records_its_outcome_for_node_exporter(
    settings: LogsSettings, fake_docker: FakeDocker
) -> None:
    assert settings.textfile_dir
    code, out = call(settings, "ship")
    assert code == 0 and "shipped 0 lines" in out, out  # the fake's lines are all in February
    ok = (settings.textfile_dir / SHIP_FILE).read_text()
    assert "logs_ship_last_run_success 1.0" in ok and "logs_ship_last_success_timestamp_seconds" in ok, ok

    code, out = call(settings.model_copy(update={"services": ["gone"]}), "ship")
    assert code == 1 and "LOGS_SERVICES" in out, out
    failed = (settings.textfile_dir / SHIP_FILE).read_text()
    assert "logs_ship_last_run_success 0.0" in failed, failed
    assert "logs_ship_last_success_timestamp_seconds" in failed, "a failure keeps the last success time"
