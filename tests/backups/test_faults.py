"""Failures must be loud and must never cost the previous good backup."""

from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.ops.backup import BackupError
from app.ops.backup.pgtools import with_database
from app.ops.backup.restore import restore
from app.ops.backup.runner import run_and_report
from app.ops.backup.settings import BackupSettings
from app.ops.backup.storage import BackupStore
from app.ops.localpg import PostgresServer
from tests.backups.helpers import backup_settings, new_bucket, ordered_digests, write_through_service
from tests.fakes.discord import FakeDiscord
from tests.fakes.server import serve
from tests.support.s3 import SeaweedS3

BULK_ROWS_SQL = """
insert into logs (level, source, message)
select 'info', 'bulk', repeat(md5(random()::text), 4) || md5(random()::text)
from generate_series(1, $1)
"""


@pytest.fixture
def own_s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """A SeaweedFS this test may stop without disturbing the session's."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweedfs-outage")).start()
    yield server
    server.destroy()


def textfile_values(settings: BackupSettings) -> dict[str, float]:
    assert settings.textfile_dir is not None
    text = (settings.textfile_dir / "trader_backup.prom").read_text()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def failing(coro: object, *must_mention: str) -> str:
    try:
        await coro  # type: ignore[misc]
    except BackupError as exc:
        message = str(exc)
    else:
        raise AssertionError(f"expected a BackupError mentioning {must_mention}")
    missing = [m for m in must_mention if m not in message]
    assert not missing, f"error does not mention {missing}: {message}"
    return message


async def test_s3_outage_mid_upload_fails_loudly_and_keeps_the_previous_backup(
    pg_url: str, pg_server: PostgresServer, own_s3: SeaweedS3, age_keys: tuple[Path, str], tmp_path: Path
) -> None:
    discord = FakeDiscord()
    with serve(discord.app) as discord_base:
        settings = backup_settings(
            pg_url,
            own_s3,
            new_bucket(own_s3),
            age_keys,
            tmp_path,
            s3_part_mb=5,
            pg_dump_compress=0,
            discord_webhook_url=discord.webhook_url(discord_base),
        )
        await write_through_service(pg_url, trades=20, features=10, logs=10)
        good_digests = await ordered_digests(pg_url)
        first = await run_and_report(settings)
        assert first.manifest is not None
        good_success_time = textfile_values(settings)["backup_last_success_timestamp_seconds"]

        conn = await asyncpg.connect(pg_url)
        try:
            await conn.execute(BULK_ROWS_SQL, 100_000)  # ~14 MB dump: three 5 MB parts
        finally:
            await conn.close()
        sent = 0

        def stop_s3_after_first_part(stage: str, n: int) -> None:
            nonlocal sent
            sent += n
            if stage == "upload" and sent > 5 * 1024 * 1024:
                own_s3.stop()

        await failing(run_and_report(settings, progress=stop_s3_after_first_part), "uploading backup")
        values = textfile_values(settings)
        assert values["backup_last_run_success"] == 0, f"a failed run must export success=0: {values}"
        assert values["backup_last_success_timestamp_seconds"] == good_success_time, (
            "a failed run must keep the time of the last good backup"
        )
        assert len(discord.messages) == 1 and "backup failed" in discord.messages[0]["content"], (
            f"expected one Discord message about the failure, got {discord.messages}"
        )

    own_s3.start()
    store = BackupStore(settings)
    listed = [b.stamp for b in store.list()]
    assert listed == [first.manifest.stamp], f"only the good backup may be listed, got {listed}"
    assert store.latest() == first.manifest.stamp, "latest.json moved to a backup that never completed"
    keys = [o["Key"] for o in store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])]
    stray = [k for k in keys if first.manifest.stamp not in k and not k.endswith("latest.json")]
    assert not stray, f"objects of the failed upload are visible in the bucket: {stray}"

    target = "restored_after_outage"
    await restore(settings, target)
    assert await ordered_digests(with_database(pg_url, target)) == good_digests, (
        "previous latest did not restore"
    )

    # the next run cleans the multipart upload the outage left behind
    second = await run_and_report(settings)
    assert second.manifest is not None
    leftover = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
    assert not leftover, f"unfinished multipart uploads remain after the next run: {leftover}"


async def test_wrong_decryption_key_is_a_clear_error(
    settings: BackupSettings, other_age_keys: tuple[Path, str]
) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    await run_and_report(settings)
    wrong = settings.model_copy(update={"age_identity_file": other_age_keys[0]})
    await failing(
        restore(wrong, "never_created"),
        "wrong decryption key",
        "BACKUP_AGE_IDENTITY_FILE",
        settings.age_recipients[0],
    )


@pytest.mark.parametrize(
    ("access_key", "secret_key"),
    [("REVOKEDORUNKNOWNKEY", "whatever-secret"), (None, "an-old-rotated-secret")],
    ids=["unknown-or-expired-key-id", "wrong-secret"],
)
async def test_refused_s3_credential_names_the_settings(
    settings: BackupSettings, access_key: str | None, secret_key: str
) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    bad = settings.model_copy(
        update={
            "s3_access_key_id": type(settings.s3_secret_access_key)(
                access_key or settings.s3_access_key_id.get_secret_value()  # type: ignore[union-attr]
            ),
            "s3_secret_access_key": type(settings.s3_secret_access_key)(secret_key),
        }
    )
    await failing(run_and_report(bad), "BACKUP_S3_ACCESS_KEY_ID", "BACKUP_S3_SECRET_ACCESS_KEY", "refused")
    assert textfile_values(bad)["backup_last_run_success"] == 0


async def test_missing_bucket_names_the_setting(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    missing = settings.model_copy(update={"s3_bucket": "no-such-bucket-here"})
    await failing(run_and_report(missing), "BACKUP_S3_BUCKET=no-such-bucket-here")


async def test_empty_database_is_refused_and_nothing_uploaded(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=0, features=0, logs=0)
    await failing(run_and_report(settings), "empty", "BACKUP_ALLOW_EMPTY", "nothing was uploaded")
    assert BackupStore(settings).stamps() == ([], []), "a refused dump reached the bucket"


async def test_dump_missing_an_expected_table_is_refused(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("drop table features")
    finally:
        await conn.close()
    await failing(run_and_report(settings), "public.features", "BACKUP_EXPECTED_TABLES")
    assert BackupStore(settings).stamps() == ([], [])


async def test_tiny_dump_is_refused(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    strict = settings.model_copy(update={"min_dump_bytes": 50_000_000})
    await failing(run_and_report(strict), "BACKUP_MIN_DUMP_BYTES")


async def test_a_database_that_lost_most_rows_is_refused_unless_allowed(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=30, features=30, logs=30)
    await run_and_report(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("delete from trades; delete from features")
    finally:
        await conn.close()
    await failing(run_and_report(settings), "BACKUP_MAX_SHRINK_RATIO", "--allow-shrink")
    assert len(BackupStore(settings).list()) == 1, "the shrunken dump was uploaded"
    allowed = await run_and_report(settings, allow_shrink=True)
    assert allowed.manifest is not None and allowed.manifest.tables["public.trades"].rows == 0


def test_endpoint_with_the_bucket_in_it_is_rejected() -> None:
    from app.ops.backup.settings import load_backup_settings

    with pytest.raises(BackupError, match=r"BACKUP_S3_ENDPOINT.*https://nyc3\.digitaloceanspaces\.com"):
        load_backup_settings(
            s3_bucket="trader-backups", s3_endpoint="https://trader-backups.nyc3.digitaloceanspaces.com"
        )


async def test_restoring_an_unknown_backup_points_to_the_list(settings: BackupSettings) -> None:
    await failing(
        restore(settings, "never_created", stamp="20200101T000000Z"), "20200101T000000Z", "backup list"
    )
