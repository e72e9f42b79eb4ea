"""`trader logs archive`: move `logs` rows older than the retention window to the bucket.

Rows go one block of ids at a time (LOGS_BLOCK_IDS), each in one transaction:

1. select the block's old rows FOR UPDATE (nothing else can delete or change them meanwhile);
2. per UTC day among them, merge them into the object `logs/date=D/ids-<first>-<last>.parquet`
   (the key depends only on the day and the block, so a re-run writes the same key), upload it,
   check its size with a HEAD and read it back: it must hold exactly the rows written;
3. only then delete those rows, and commit.

Any failure before the commit rolls the delete back: nothing leaves Postgres unless it is in the
bucket. A run that died after an upload but before its commit leaves rows that are in both places;
the next run merges them by id into the same object, so no row is ever stored twice. The cut-off
is a UTC midnight, so each day is normally archived whole, by one run. One run at a time: a
session advisory lock on the database.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import asyncpg
import structlog

from app.ops.logs import LogsError, parquet
from app.ops.logs.settings import LogsSettings
from app.ops.logs.store import LogStore

if TYPE_CHECKING:
    import pyarrow as pa

log = structlog.get_logger(__name__)

ARCHIVE_LOCK_ID = 7_305_011  # arbitrary, constant: the advisory lock key for archive runs
SELECT_BLOCK = """
    select id, ts, level, source, message, payload::text as payload from logs
    where ts < $1 and id >= $2 and id < $3 order by id for update
"""


class ArchiveFailed(LogsError):
    """A run stopped; `rows` were archived (committed) by its blocks before the failure."""

    def __init__(self, message: str, rows: int) -> None:
        super().__init__(message)
        self.rows = rows


@dataclass
class ArchiveResult:
    cutoff: datetime
    rows: int = 0
    objects: list[str] = field(default_factory=list)
    locked_out: bool = False  # another run held the lock: nothing was done


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    """The UTC midnight `retention_days` before today: rows older than it are archived."""
    midnight = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    return midnight - timedelta(days=retention_days)


def object_key(store: LogStore, day: date, first_id: int, last_id: int) -> str:
    return store.key("logs", f"date={day.isoformat()}", f"ids-{first_id:012d}-{last_id:012d}.parquet")


def _upload_verified(store: LogStore, key: str, rows: pa.Table) -> None:
    """Merge `rows` into the object at `key`, upload, and read it back."""
    old = store.get(key)
    merged = parquet.merge(parquet.from_bytes(old) if old is not None else None, rows)
    store.put(key, parquet.to_bytes(merged), "application/vnd.apache.parquet")
    stored = store.get(key)
    if stored is None or not parquet.from_bytes(stored).equals(merged):
        raise LogsError(f"{key} read back from the bucket differs from what was uploaded")


async def _archive_block(
    conn: asyncpg.Connection, store: LogStore, cutoff: datetime, first: int, last: int
) -> tuple[int, list[str]]:
    async with conn.transaction():
        rows = await conn.fetch(SELECT_BLOCK, cutoff, first, last + 1)
        by_day: dict[date, list[asyncpg.Record]] = {}
        for row in rows:
            by_day.setdefault(row["ts"].astimezone(UTC).date(), []).append(row)
        keys = []
        for day, day_rows in sorted(by_day.items()):
            key = object_key(store, day, first, last)
            _upload_verified(store, key, parquet.to_table([dict(r) for r in day_rows]))
            keys.append(key)
        ids = [row["id"] for row in rows]
        status = await conn.execute("delete from logs where id = any($1::bigint[]) and ts < $2", ids, cutoff)
        if int(status.split()[-1]) != len(ids):
            raise LogsError(f"deleting ids {first}-{last}: {status}, expected {len(ids)} rows")
    return len(ids), keys


async def archive(
    settings: LogsSettings,
    *,
    now: datetime | None = None,
    store: LogStore | None = None,
    progress: Callable[[str], None] | None = None,
) -> ArchiveResult:
    store = store or LogStore(settings)
    result = ArchiveResult(cutoff=cutoff_for(now or datetime.now(UTC), settings.retention_days))
    try:
        conn = await asyncpg.connect(settings.database_url, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        raise LogsError(f"cannot connect to DATABASE_URL: {exc}") from None
    try:
        if not await conn.fetchval("select pg_try_advisory_lock($1)", ARCHIVE_LOCK_ID):
            result.locked_out = True
            return result
        start = 0
        while True:
            # in id order along the primary key (id, ts): old rows have the low ids, found at once
            lowest = await conn.fetchval(
                "select id from logs where ts < $1 and id >= $2 order by id limit 1", result.cutoff, start
            )
            if lowest is None:
                break
            first = lowest - lowest % settings.block_ids
            last = first + settings.block_ids - 1
            rows, keys = await _archive_block(conn, store, result.cutoff, first, last)
            result.rows += rows
            result.objects += keys
            log.info("logs_archived", first_id=first, last_id=last, rows=rows, objects=len(keys))
            if progress:
                progress(f"ids {first}-{last}: {rows} rows -> {len(keys)} object(s)")
            start = last + 1
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:  # incl. a dropped connection
        raise ArchiveFailed(f"archiving from DATABASE_URL failed: {exc}", result.rows) from None
    except LogsError as exc:
        raise ArchiveFailed(str(exc), result.rows) from None
    finally:
        await conn.close()
    return result


async def archive_and_report(
    settings: LogsSettings, progress: Callable[[str], None] | None = None, **kwargs: object
) -> ArchiveResult:
    """`archive` plus the textfile metrics (when LOGS_TEXTFILE_DIR is set), success or not."""
    from app.ops.logs import textfile

    started = time.monotonic()
    try:
        result = await archive(settings, progress=progress, **kwargs)  # type: ignore[arg-type]
    except LogsError as exc:
        if settings.textfile_dir:
            textfile.write_archive(
                settings.textfile_dir,
                success=False,
                rows=exc.rows if isinstance(exc, ArchiveFailed) else 0,
                duration_seconds=time.monotonic() - started,
                now=time.time(),
            )
        raise
    if settings.textfile_dir and not result.locked_out:
        textfile.write_archive(
            settings.textfile_dir,
            success=True,
            rows=result.rows,
            duration_seconds=time.monotonic() - started,
            now=time.time(),
        )
    return result
