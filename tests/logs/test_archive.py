"""`trader logs archive` against real Postgres and SeaweedFS: rows written through the service end
up in the bucket as date-partitioned Parquet, gone from Postgres, identical when DuckDB reads them
back; a re-run changes nothing; a late row joins its day's object instead of duplicating it."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from app.ops.logs.archive import ARCHIVE_LOCK_ID, archive_and_report, cutoff_for
from app.ops.logs.query import Archive, run
from app.ops.logs.settings import LogsSettings
from app.ops.logs.textfile import ARCHIVE_FILE
from tests.logs.helpers import (
    NOW,
    OLD_DAYS,
    RECENT_DAY,
    bucket_objects,
    call,
    db_rows,
    record,
    write_through_service,
)
from tests.support.s3 import SeaweedS3

CUTOFF = cutoff_for(NOW, 14)


def archived(settings: LogsSettings) -> dict[int, tuple]:
    """id -> row as DuckDB reads the bucket, in the shape of helpers.db_rows."""
    assert settings.archive_url
    columns, rows = run(
        Archive(settings.archive_url, settings),
        "select id, ts, level, source, message, payload, date from logs order by id",
    )
    assert columns[:6] == ["id", "ts", "level", "source", "message", "payload"], columns
    out = {}
    for ident, ts, level, source, message, payload, day in rows:
        assert day == ts.date(), f"row {ident} at {ts} is in partition date={day}"
        assert ident not in out, f"row {ident} is in the archive twice"
        out[ident] = (ts, level, source, message, json.loads(payload))
    return out


def metrics(directory: Path) -> dict[str, float]:
    text = (directory / ARCHIVE_FILE).read_text()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def test_old_rows_round_trip_through_the_bucket(settings: LogsSettings) -> None:
    settings = settings.model_copy(update={"block_ids": 100})  # several blocks, several transactions
    await write_through_service(
        settings.database_url,
        [record(day) for day in OLD_DAYS for _ in range(70)] + [record(RECENT_DAY) for _ in range(15)],
    )
    before = await db_rows(settings.database_url)
    old = {i: row for i, row in before.items() if row[0] < CUTOFF}
    assert len(old) == 210 and len(before) == 225, "the service stored the rows the test wrote"

    result = await archive_and_report(settings, now=NOW)

    assert result.rows == len(old), f"archived {result.rows} rows, {len(old)} were older than {CUTOFF}"
    left = await db_rows(settings.database_url)
    assert left == {i: r for i, r in before.items() if i not in old}, "only the recent rows stay in Postgres"
    assert archived(settings) == old, "the bucket must hold exactly the archived rows, with identical content"
    assert all("/logs/date=2026-02-" in key and key.endswith(".parquet") for key in result.objects), (
        result.objects
    )
    assert settings.textfile_dir
    written = metrics(settings.textfile_dir)
    assert written["logs_archive_last_run_success"] == 1 and written["logs_archive_rows_total"] == len(old), (
        written
    )
    assert written["logs_archive_last_success_timestamp_seconds"] > 0, written


async def test_a_rerun_after_success_changes_nothing(settings: LogsSettings, s3_server: SeaweedS3) -> None:
    await write_through_service(settings.database_url, [record(day) for day in OLD_DAYS for _ in range(10)])
    await archive_and_report(settings, now=NOW)
    assert settings.s3_bucket
    objects, rows = bucket_objects(s3_server, settings.s3_bucket), archived(settings)

    again = await archive_and_report(settings, now=NOW)

    assert again.rows == 0 and again.objects == [], f"a second run archived {again.rows} rows"
    assert bucket_objects(s3_server, settings.s3_bucket) == objects, "a second run rewrote objects"
    assert archived(settings) == rows
    assert settings.textfile_dir
    assert metrics(settings.textfile_dir)["logs_archive_rows_total"] == len(rows), (
        "the counter kept its total"
    )


async def test_a_late_row_joins_its_days_object(settings: LogsSettings, s3_server: SeaweedS3) -> None:
    await write_through_service(settings.database_url, [record(OLD_DAYS[1]) for _ in range(10)])
    first = await archive_and_report(settings, now=NOW)
    assert len(first.objects) == 1, first.objects
    # a row for the same (archived) day arrives afterwards, e.g. from a client that was offline
    await write_through_service(settings.database_url, [record(OLD_DAYS[1])])
    late = await db_rows(settings.database_url)

    second = await archive_and_report(settings, now=NOW)

    assert second.objects == first.objects, "the late row must go to the same day's object"
    rows = archived(settings)
    assert len(rows) == 11 and set(late) <= set(rows), "the object holds the earlier rows and the late one"
    assert settings.s3_bucket
    assert len(bucket_objects(s3_server, settings.s3_bucket)) == 1


async def test_a_run_waits_for_no_one_while_another_holds_the_lock(settings: LogsSettings) -> None:
    await write_through_service(settings.database_url, [record(OLD_DAYS[0]) for _ in range(5)])
    holder = await asyncpg.connect(settings.database_url)
    try:
        await holder.execute("select pg_advisory_lock($1)", ARCHIVE_LOCK_ID)
        result = await archive_and_report(settings, now=NOW)
    finally:
        await holder.close()
    assert result.locked_out and result.rows == 0, result
    assert len(await db_rows(settings.database_url)) == 5, "a locked-out run must not delete anything"


async def test_the_command_reports_what_it_moved_and_where(settings: LogsSettings) -> None:
    await write_through_service(settings.database_url, [record(OLD_DAYS[2]) for _ in range(4)])
    code, out = await asyncio.to_thread(call, settings, "archive")
    assert code == 0, out
    assert "archived 4 rows" in out and f"{settings.archive_url}/logs/" in out, out
    assert await db_rows(settings.database_url) == {}


async def test_the_command_names_a_missing_bucket_setting(settings: LogsSettings) -> None:
    await write_through_service(settings.database_url, [record(OLD_DAYS[2])])
    code, out = await asyncio.to_thread(
        call, settings.model_copy(update={"s3_bucket": "no-such-bucket"}), "archive"
    )
    assert code == 1 and "LOGS_S3_BUCKET=no-such-bucket does not exist" in out, out
    assert len(await db_rows(settings.database_url)) == 1


async def test_the_services_own_journal_rows_are_archived(
    make_stack, pg_url: str, settings: LogsSettings
) -> None:
    """Provider-call rows the running service records itself (Journal) take the same path."""
    async with make_stack() as stack:
        response = await stack.client.get("/api/v1/market/overview")
        assert response.status_code == 200, response.text
        await stack.service.app.state.providers.journal.drain(5)
    before = await db_rows(pg_url)
    assert any(row[2] == "providers" and row[4].get("provider") == "polygon" for row in before.values()), (
        before
    )

    # rows written just now are old for a run 15 days from now
    result = await archive_and_report(settings, now=datetime.now(UTC) + timedelta(days=15))

    assert result.rows == len(before) and await db_rows(pg_url) == {}
    assert archived(settings) == before
