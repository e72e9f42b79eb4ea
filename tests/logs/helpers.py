"""Factories for log-archive tests: settings pointing at the test's Postgres and SeaweedFS, `logs`
rows written through the service's API, and reads of both sides for comparison."""

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from typer.testing import CliRunner

from app.cli import cli
from app.ops.logs.settings import LogsSettings, load_logs_settings
from tests.api.conftest import running, settings_for
from tests.support.s3 import SeaweedS3

# The archive runs "at" NOW: with 14 days of retention the cut-off is 2026-02-15T00:00Z.
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
OLD_DAYS = [datetime(2026, 2, d, tzinfo=UTC) for d in (10, 12, 14)]
RECENT_DAY = datetime(2026, 2, 20, tzinfo=UTC)
_buckets = itertools.count()
_seq = itertools.count()


def new_bucket(s3: SeaweedS3) -> str:
    name = f"logs-{next(_buckets)}"
    s3.client().create_bucket(Bucket=name)
    return name


def logs_settings(pg_url: str, s3: SeaweedS3, bucket: str, work: Path, **over: Any) -> LogsSettings:
    values: dict[str, Any] = {
        "database_url": pg_url,
        "s3_endpoint": s3.endpoint,
        "s3_region": s3.region,
        "s3_bucket": bucket,
        "s3_access_key_id": s3.access_key,
        "s3_secret_access_key": s3.secret_key,
        "retention_days": 14,
        "textfile_dir": work / "textfile",
        "state_dir": work / "state",
        "services": ["app", "db", "caddy"],  # the stack's Compose services (tests/logs/test_ship.py)
    }
    return load_logs_settings(**(values | over))


def record(day: datetime, **over: Any) -> dict[str, Any]:
    """A log record as a client posts it; each call a few minutes after the previous one."""
    n = next(_seq)
    ts = day + timedelta(minutes=7 * (n % 200), microseconds=n)
    body = {
        "ts": ts.isoformat().replace("+00:00", "Z"),
        "level": ("info", "warning", "error")[n % 3],
        "source": ("strategy.momentum", "providers", "orders")[n % 3],
        "message": f'event {n} «ünïcode» "quoted"',
        "payload": {"n": n, "symbol": "AAPL", "nested": {"ok": n % 2 == 0}},
    }
    return body | over


async def write_through_service(pg_url: str, bodies: list[dict[str, Any]]) -> None:
    """The app's lifespan migrates; the API stores the rows (batches of up to 1000)."""
    async with running(settings_for(pg_url)) as svc:
        for start in range(0, len(bodies), 1000):
            response = await svc.client.post("/api/v1/logs", json=bodies[start : start + 1000])
            assert response.status_code == 201, f"POST /api/v1/logs: {response.status_code} {response.text}"


async def db_rows(pg_url: str, where: str = "true") -> dict[int, tuple]:
    """id -> (ts, level, source, message, payload as parsed JSON) of `logs` rows."""
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            f"select id, ts, level, source, message, payload::text as payload from logs where {where}"
        )
    finally:
        await conn.close()
    return {r["id"]: (r["ts"], r["level"], r["source"], r["message"], json.loads(r["payload"])) for r in rows}


def bucket_objects(s3: SeaweedS3, bucket: str) -> dict[str, tuple[str, datetime]]:
    """key -> (ETag, LastModified) of every object in the bucket."""
    listing = s3.client().list_objects_v2(Bucket=bucket)
    return {o["Key"]: (o["ETag"], o["LastModified"]) for o in listing.get("Contents", [])}


def env(settings: LogsSettings) -> dict[str, str]:
    assert settings.s3_endpoint and settings.s3_bucket
    assert settings.s3_access_key_id and settings.s3_secret_access_key
    return {
        "DATABASE_URL": settings.database_url,
        "LOGS_S3_ENDPOINT": settings.s3_endpoint,
        "LOGS_S3_BUCKET": settings.s3_bucket,
        "LOGS_S3_ACCESS_KEY_ID": settings.s3_access_key_id.get_secret_value(),
        "LOGS_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key.get_secret_value(),
        "LOGS_STATE_DIR": str(settings.state_dir),
        "LOGS_TEXTFILE_DIR": str(settings.textfile_dir),
        "LOGS_SERVICES": ",".join(settings.services),
        "LOGS_COMPOSE_PROJECT": settings.compose_project,
    }


def call(settings: LogsSettings, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["logs", *args], env=env(settings))
    return result.exit_code, result.output
