"""Two runs never overlap; retention leaves exactly the configured set."""

import asyncio
import json
from datetime import UTC, datetime, timedelta

import asyncpg

from app.ops.backup import lock, retention
from app.ops.backup.manifest import Manifest
from app.ops.backup.runner import run_and_report
from app.ops.backup.settings import BackupSettings
from app.ops.backup.storage import DUMP_NAME, BackupStore
from tests.backups.helpers import write_through_service


async def hold_backup_lock(url: str) -> asyncpg.Connection:
    """What a running backup holds: the advisory lock, on its own session."""
    conn = await asyncpg.connect(url)
    assert await lock.acquire(conn, 0), "could not take the backup lock in the test"
    return conn


async def test_a_second_run_exits_cleanly_while_one_holds_the_lock(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    holder = await hold_backup_lock(settings.database_url)
    try:
        result = await run_and_report(settings)
    finally:
        await holder.close()
    assert result.manifest is None, "a run went ahead while another held the lock"
    assert BackupStore(settings).stamps() == ([], []), "the skipped run wrote to the bucket"
    assert settings.textfile_dir is not None
    assert not (settings.textfile_dir / "trader_backup.prom").exists(), (
        "a skipped run must leave the metrics alone"
    )


async def test_a_run_told_to_wait_goes_ahead_once_the_lock_is_free(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    waiting = settings.model_copy(update={"lock_wait_seconds": 60})
    holder = await hold_backup_lock(settings.database_url)
    run = asyncio.create_task(run_and_report(waiting))
    await asyncio.sleep(1.5)
    assert not run.done(), "the run did not wait for the lock"
    await holder.close()
    result = await asyncio.wait_for(run, 60)
    assert result.manifest is not None and len(BackupStore(settings).list()) == 1


async def test_two_runs_started_together_leave_one_backup(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    results = await asyncio.gather(run_and_report(settings), run_and_report(settings))
    done = [r for r in results if r.manifest is not None]
    assert len(done) == 1, f"expected one run to back up and one to step aside, got {results}"
    assert len(BackupStore(settings).list()) == 1


# A simulated month and a half: one backup a day at 02:00 UTC, 2026-10-01 .. 2026-11-15 (a Sunday).
FIRST_DAY = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
DAYS = 46
# keep_daily=7, keep_weekly=4, keep_monthly=3, worked out by hand:
#   daily   Nov 9..15 (the newest 7 days with backups)
#   weekly  newest of ISO weeks ending Nov 15, Nov 8, Nov 1, Oct 25
#   monthly newest of November (Nov 15) and October (Oct 31); no earlier month has backups
EXPECTED_KEPT = sorted(
    [f"202611{d:02d}T020000Z" for d in range(9, 16)]
    + ["20261108T020000Z", "20261101T020000Z", "20261025T020000Z", "20261031T020000Z"]
)


def put_backup(store: BackupStore, stamp: str, dump: bool = True, manifest: bool = True) -> None:
    """A backup's objects as a run leaves them (content is irrelevant to retention); a complete
    one also becomes latest, as a run publishes it."""
    if dump:
        store.client.put_object(Bucket=store.bucket, Key=store.dump_key(stamp), Body=b"age-encrypted-dump")
    if manifest:
        body = Manifest(stamp, "trader", stamp, 150000, 15, {}, {}).to_json()
        store.client.put_object(Bucket=store.bucket, Key=store.manifest_key(stamp), Body=body)
    if dump and manifest:
        latest = json.dumps({"stamp": stamp}).encode()
        store.client.put_object(Bucket=store.bucket, Key=store.latest_key, Body=latest)


def test_retention_over_a_simulated_month_keeps_exactly_the_policy(settings: BackupSettings) -> None:
    policy = settings.model_copy(update={"keep_daily": 7, "keep_weekly": 4, "keep_monthly": 3})
    store = BackupStore(policy)
    for day in range(DAYS):
        put_backup(store, retention.stamp_of(FIRST_DAY + timedelta(days=day)))
    assert store.latest() == EXPECTED_KEPT[-1]
    put_backup(store, "20261003T020500Z", manifest=False)  # a run that died before publishing
    put_backup(store, "20261004T020500Z", dump=False)  # a manifest whose dump was lost
    deleted = retention.apply(store, policy)
    complete, partial = store.stamps()
    assert complete == EXPECTED_KEPT, f"kept {complete}, policy says {EXPECTED_KEPT}"
    assert partial == [], f"incomplete folders survived retention: {partial}"
    assert len(deleted) == DAYS - len(EXPECTED_KEPT) + 2
    orphans = [
        o["Key"]
        for o in store.client.list_objects_v2(Bucket=store.bucket).get("Contents", [])
        if o["Key"].endswith(DUMP_NAME) and o["Key"].split("/")[-2] not in EXPECTED_KEPT
    ]
    assert not orphans, f"dumps of deleted backups remain: {orphans}"


def test_retention_counts_days_with_backups_not_calendar_days() -> None:
    """After two weeks of failed runs the last good backups are still there."""
    stamps = [retention.stamp_of(FIRST_DAY + timedelta(days=d)) for d in range(5)]
    assert retention.to_keep(stamps, daily=7, weekly=0, monthly=0) == set(stamps)


async def test_a_run_applies_retention_with_its_clock(settings: BackupSettings) -> None:
    await write_through_service(settings.database_url, trades=3, features=3, logs=3)
    policy = settings.model_copy(update={"keep_daily": 2, "keep_weekly": 0, "keep_monthly": 0})
    days = [FIRST_DAY + timedelta(days=d) for d in range(3)]
    for day in days:
        await run_and_report(policy, clock=lambda day=day: day)
    kept = [b.stamp for b in BackupStore(policy).list()]
    assert kept == [retention.stamp_of(d) for d in days[1:]], (
        f"after three daily runs with keep_daily=2: {kept}"
    )
