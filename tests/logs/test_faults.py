"""The object store stops in the middle of an archive run (a real SeaweedFS, killed right after it
stored the first object): Postgres keeps every row, and once the store is back a re-run completes
with each row in the bucket exactly once."""

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from app.ops.logs import LogsError
from app.ops.logs.archive import archive_and_report
from app.ops.logs.settings import LogsSettings
from app.ops.logs.store import LogStore
from tests.logs.helpers import (
    NOW,
    OLD_DAYS,
    db_rows,
    logs_settings,
    new_bucket,
    record,
    write_through_service,
)
from tests.logs.test_archive import archived, metrics
from tests.support.s3 import SeaweedS3


@pytest.fixture
def own_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS of this test's own: the session's one must keep running for the others."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs-fault")).start()
    yield server
    server.destroy()


async def test_store_stopped_mid_archive_deletes_nothing_and_a_rerun_completes(
    pg_url: str, own_s3: SeaweedS3, tmp_path: Path
) -> None:
    settings = logs_settings(pg_url, own_s3, new_bucket(own_s3), tmp_path)
    await write_through_service(pg_url, [record(day) for day in OLD_DAYS for _ in range(40)])
    before = await db_rows(pg_url)
    store = LogStore(settings, retries=0)
    puts: list[int] = []

    def stop_after_first_put(http_response: object, **_: object) -> None:
        puts.append(getattr(http_response, "status_code", 0))
        if len(puts) == 1:
            own_s3.stop()

    store.client.meta.events.register("after-call.s3.PutObject", stop_after_first_put)

    with pytest.raises(LogsError) as failure:
        await archive_and_report(settings, now=NOW, store=store)

    assert puts == [200], f"one upload succeeded, then the store died before its check: {puts}"
    assert await db_rows(pg_url) == before, "rows were deleted although their upload was never verified"
    assert "LOGS_S3_ENDPOINT" in str(failure.value), f"the error names the setting: {failure.value}"
    assert settings.textfile_dir
    assert metrics(settings.textfile_dir)["logs_archive_last_run_success"] == 0

    own_s3.start()
    result = await archive_and_report(settings, now=NOW)

    assert result.rows == len(before), f"re-run archived {result.rows} of {len(before)} rows"
    assert await db_rows(pg_url) == {}, "every old row left Postgres after the re-run"
    assert archived(settings) == before, "each row in the bucket exactly once, content unchanged"
    written = metrics(settings.textfile_dir)
    assert written["logs_archive_last_run_success"] == 1 and written["logs_archive_rows_total"] == len(before)


async def test_database_connection_lost_after_an_upload_loses_and_duplicates_nothing(
    settings: LogsSettings, s3_server: SeaweedS3
) -> None:
    await write_through_service(settings.database_url, [record(day) for day in OLD_DAYS for _ in range(10)])
    before = await db_rows(settings.database_url)
    store = LogStore(settings)

    async def terminate_archive_session() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity "
                "where datname = current_database() and pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()

    def kill_session_after_first_put(**_: object) -> None:
        store.client.meta.events.unregister("after-call.s3.PutObject", kill_session_after_first_put)
        # the archive's own event loop is busy running this hook: use a thread with its own
        worker = threading.Thread(target=asyncio.run, args=(terminate_archive_session(),))
        worker.start()
        worker.join()

    store.client.meta.events.register("after-call.s3.PutObject", kill_session_after_first_put)

    with pytest.raises(LogsError, match="DATABASE_URL"):
        await archive_and_report(settings, now=NOW, store=store)

    assert await db_rows(settings.database_url) == before, "the dropped transaction must delete nothing"
    result = await archive_and_report(settings, now=NOW)
    assert result.rows == len(before) and await db_rows(settings.database_url) == {}
    assert archived(settings) == before, "the object uploaded before the drop is merged, not duplicated"
