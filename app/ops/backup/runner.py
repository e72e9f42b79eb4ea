"""`trader backup run`: dump → check → encrypt → upload → publish → retention, under the lock;
then the outcome goes to the textfile collector and, on failure, to Discord."""

import asyncio
import hashlib
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog

from app.ops.backup import BackupError, crypto, lock, retention, textfile
from app.ops.backup.dump import dump
from app.ops.backup.manifest import Manifest
from app.ops.backup.notify import notify_failure
from app.ops.backup.settings import BackupSettings
from app.ops.backup.storage import BackupStore

log = structlog.get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class RunResult:
    manifest: Manifest | None  # None: another run held the lock, nothing was done
    deleted: list[str] = field(default_factory=list)
    aborted_uploads: int = 0


async def connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=15)
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        raise BackupError(
            f"cannot connect to DATABASE_URL ({exc}): check the URL and that Postgres is up"
        ) from None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_shrink(manifest: Manifest, previous: Manifest | None, settings: BackupSettings) -> None:
    """Refuse a backup that lost more than BACKUP_MAX_SHRINK_RATIO of the rows since the last one:
    a truncated table backed up nightly would otherwise push the good backups out of retention."""
    if previous is None or previous.total_rows == 0:
        return
    floor = previous.total_rows * (1 - settings.max_shrink_ratio)
    if manifest.total_rows < floor:
        raise BackupError(
            f"the database has {manifest.total_rows} rows, backup {previous.stamp} had "
            f"{previous.total_rows}: "
            f"more than BACKUP_MAX_SHRINK_RATIO={settings.max_shrink_ratio} lost, nothing was uploaded. "
            "If intended, run once with --allow-shrink"
        )


async def _fresh_stamp(store: BackupStore, clock: Callable[[], datetime]) -> str:
    """A stamp no backup has yet (a run that waited for the lock may start in the same second)."""
    taken = set((await asyncio.to_thread(store.stamps))[0])
    for _ in range(3):
        stamp = retention.stamp_of(clock())
        if stamp not in taken:
            return stamp
        await asyncio.sleep(1)
    raise BackupError(f"backup {stamp} already exists in the bucket: is the clock going backwards?")


async def run_backup(
    settings: BackupSettings,
    clock: Callable[[], datetime] = utc_now,
    progress: Callable[[str, int], None] | None = None,
    allow_shrink: bool = False,
) -> RunResult:
    """One backup run. `progress(stage, bytes)` is told about each stage and uploaded bytes."""
    settings.require("age_recipients")
    report = progress or (lambda stage, n: None)
    started = time.monotonic()
    conn = await connect(settings.database_url)
    try:
        if not await lock.acquire(conn, settings.lock_wait_seconds):
            return RunResult(manifest=None)
        store = BackupStore(settings)
        stamp = await _fresh_stamp(store, clock)
        aborted = await asyncio.to_thread(store.abort_stale_uploads)
        latest = await asyncio.to_thread(store.latest)
        previous = await asyncio.to_thread(store.manifest, latest) if latest else None
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=settings.work_dir, prefix="trader-backup-") as tmp:
            plain, encrypted = Path(tmp) / "dump.pgdump", Path(tmp) / "dump.pgdump.age"
            report("dump", 0)
            manifest = await dump(conn, settings, stamp, plain)
            if not allow_shrink:
                check_shrink(manifest, previous, settings)
            report("encrypt", 0)
            await asyncio.to_thread(crypto.encrypt, plain, encrypted, settings.age_recipients)
            plain.unlink()
            manifest.encrypted_bytes = encrypted.stat().st_size
            manifest.encrypted_sha256 = await asyncio.to_thread(sha256_of, encrypted)
            manifest.recipients = list(settings.age_recipients)
            report("upload", 0)
            await asyncio.to_thread(store.upload_dump, encrypted, stamp, lambda n: report("upload", n))
        manifest.duration_seconds = round(time.monotonic() - started, 3)
        await asyncio.to_thread(store.commit, manifest)
        report("retention", 0)
        deleted = await asyncio.to_thread(retention.apply, store, settings)
        return RunResult(manifest=manifest, deleted=deleted, aborted_uploads=aborted)
    finally:
        await conn.close()


def _export(settings: BackupSettings, success: bool, size_bytes: int, started: float) -> None:
    if settings.textfile_dir is not None:
        textfile.write(
            settings.textfile_dir,
            success=success,
            size_bytes=size_bytes,
            duration_seconds=time.monotonic() - started,
            now=time.time(),
        )


async def run_and_report(
    settings: BackupSettings,
    clock: Callable[[], datetime] = utc_now,
    progress: Callable[[str, int], None] | None = None,
    allow_shrink: bool = False,
) -> RunResult:
    """`run_backup`, then its outcome to the textfile collector, and failures to Discord.
    A run that found the lock held exports nothing: the run holding it will."""
    started = time.monotonic()
    try:
        result = await run_backup(settings, clock, progress, allow_shrink)
    except Exception as exc:  # any failure must reach the metrics and Discord, then propagate
        log.error("backup failed", error=str(exc))
        _export(settings, False, 0, started)
        webhook = settings.discord_webhook_url.get_secret_value() if settings.discord_webhook_url else None
        await asyncio.to_thread(notify_failure, webhook, str(exc))
        raise
    if result.manifest is not None:
        _export(settings, True, result.manifest.encrypted_bytes, started)
    return result
