"""Keep the newest backup of each of the last N days, M ISO weeks and K months that have backups.

Counting periods that *have* backups (as restic and borg do) rather than calendar periods back
from today means a stretch of failed runs never ages the last good backups out. The newest backup
is always kept, and retention runs only after a new backup was published. The bucket's lifecycle
rule (infra) is a second line of defence, set longer than this policy.
"""

from collections.abc import Callable, Hashable
from datetime import UTC, datetime

from app.ops.backup.settings import BackupSettings
from app.ops.backup.storage import BackupStore

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"


def stamp_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def moment_of(stamp: str) -> datetime:
    return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC)


def _newest_per_period(ordered: list[str], count: int, period: Callable[[datetime], Hashable]) -> set[str]:
    kept: dict[Hashable, str] = {}
    for stamp in ordered:
        key = period(moment_of(stamp))
        if key not in kept:
            if len(kept) == count:
                break
            kept[key] = stamp
    return set(kept.values())


def to_keep(stamps: list[str], daily: int, weekly: int, monthly: int) -> set[str]:
    ordered = sorted(stamps, reverse=True)  # stamps sort chronologically; newest first
    return (
        set(ordered[:1])
        | _newest_per_period(ordered, daily, lambda m: m.date())
        | _newest_per_period(ordered, weekly, lambda m: m.isocalendar()[:2])
        | _newest_per_period(ordered, monthly, lambda m: (m.year, m.month))
    )


def apply(store: BackupStore, settings: BackupSettings) -> list[str]:
    """Delete the backups the policy does not keep and incomplete folders (runs that
    died; callers hold the backup lock, so none is in progress). Returns the stamps deleted."""
    complete, partial = store.stamps()
    keep = to_keep(complete, settings.keep_daily, settings.keep_weekly, settings.keep_monthly)
    latest = store.latest()
    if latest is not None:
        keep.add(latest)
    doomed = sorted(set(complete) - keep) + partial
    for stamp in doomed:
        store.delete(stamp)
    return doomed
