"""The object store stops in the middle of an archive run (a real SeaweedFS, killed right after it
stored the first object): Postgres keeps every row, and once the store is back a re-run completes
with each row in the bucket exactly once."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.ops.logs import LogsError
from app.ops.logs.archive import archive_and_report
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
