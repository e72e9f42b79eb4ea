"""Write through the service, back up, drop the database, restore, compare every table."""

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from app.ops.backup.pgtools import database_name, with_database
from app.ops.backup.restore import restore, verify
from app.ops.backup.runner import run_and_report
from app.ops.backup.settings import BackupSettings
from app.ops.backup.storage import BackupStore
from tests.backups.helpers import ordered_digests, write_through_service


def metrics(settings: BackupSettings) -> dict[str, float]:
    assert settings.textfile_dir is not None
    text = (settings.textfile_dir / "trader_backup.prom").read_text()
    return {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}


async def test_backup_drop_restore_gives_back_every_row(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url)
    before = await ordered_digests(settings.database_url)
    assert before["public.trades"][0] == 40, f"service wrote {before['public.trades'][0]} trades, expected 40"

    result = await run_and_report(settings)
    assert result.manifest is not None, "the run found the lock held although nothing else runs"
    store = BackupStore(settings)
    assert [b.stamp for b in store.list()] == [result.manifest.stamp], (
        "the bucket should list exactly the new backup"
    )
    assert store.latest() == result.manifest.stamp, "latest.json does not point at the new backup"

    name = database_name(settings.database_url)
    admin = await asyncpg.connect(with_database(settings.database_url, "postgres"))
    try:
        await admin.execute(f'drop database "{name}" with (force)')
    finally:
        await admin.close()

    restored = await restore(settings, name)
    assert restored.stamp == result.manifest.stamp
    after = await ordered_digests(settings.database_url)
    assert after == before, f"tables differ after restore: before={before} after={after}"


async def test_run_writes_the_textfile_metrics(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=5, features=5, logs=5)
    result = await run_and_report(settings)
    assert result.manifest is not None
    values = metrics(settings)
    assert values["backup_last_run_success"] == 1, values
    assert values["backup_last_size_bytes"] == result.manifest.encrypted_bytes, values
    assert values["backup_last_duration_seconds"] > 0, values
    assert values["backup_last_success_timestamp_seconds"] > 1.7e9, values


async def test_restore_refuses_to_replace_a_database_without_confirmation(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=5, features=5, logs=5)
    await run_and_report(settings)
    questions: list[str] = []

    def decline(question: str) -> bool:
        questions.append(question)
        return False

    name = database_name(settings.database_url)
    try:
        await restore(settings, name, confirm=decline)
    except Exception as exc:
        assert "--yes" in str(exc) and name in str(exc), f"unhelpful refusal: {exc}"
    else:
        raise AssertionError("restore replaced an existing database without confirmation")
    assert questions and name in questions[0], (
        f"the confirmation question did not name the database: {questions}"
    )


async def test_verify_restores_into_a_scratch_database_and_drops_it(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=7, features=3, logs=2)
    result = await run_and_report(settings)
    assert result.manifest is not None
    checked = await verify(settings)
    assert checked.rows == result.manifest.total_rows, (
        f"verify saw {checked.rows} rows, manifest {result.manifest}"
    )
    admin = await asyncpg.connect(with_database(settings.database_url, "postgres"))
    try:
        left = await admin.fetch("select datname from pg_database where datname like 'trader_backup_verify%'")
    finally:
        await admin.close()
    assert not left, f"verify left its scratch database behind: {left}"


async def test_verify_detects_a_manifest_that_does_not_match(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    result = await run_and_report(settings)
    assert result.manifest is not None
    store = BackupStore(settings)
    tampered = store.manifest(result.manifest.stamp)
    trades = tampered.tables["public.trades"]
    tampered.tables["public.trades"] = type(trades)(rows=trades.rows + 1, checksum=trades.checksum)
    store.client.put_object(
        Bucket=store.bucket, Key=store.manifest_key(tampered.stamp), Body=tampered.to_json()
    )
    try:
        await verify(settings)
    except Exception as exc:
        assert "public.trades" in str(exc) and "does not match" in str(exc), f"unclear mismatch report: {exc}"
    else:
        raise AssertionError("verify accepted a restore whose row count differs from the manifest")


async def test_restore_onto_a_fresh_server(settings: BackupSettings) -> None:
    """The disaster case: the droplet is gone, a new empty cluster takes the backup."""
    from app.ops.localpg import PostgresServer

    await write_through_service(settings.database_url, trades=12, features=6, logs=4)
    before = await ordered_digests(settings.database_url)
    await run_and_report(settings)
    fresh = PostgresServer().start()
    try:
        restored = await restore(settings, "trader", server_url=fresh.url("postgres"), confirm=lambda q: True)
        assert restored.database == "trader"
        after = await ordered_digests(fresh.url("trader"))
    finally:
        fresh.destroy()
    assert after == before, f"tables differ on the fresh server: before={before} after={after}"
