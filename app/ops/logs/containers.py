"""`trader logs ship`: the stack's container logs (app, db, caddy) to the bucket, one gzip NDJSON
object per container and completed UTC day: `containers/date=YYYY-MM-DD/<container>.ndjson.gz`.

Each day is read whole with `docker logs --timestamps --since D --until D+1` (Docker's json-file
driver keeps them, rotated by the docker role's size limits), so the object for a day is always
rebuilt from the same lines: a re-run uploads identical bytes to the same key (gzip without a
timestamp) instead of adding a copy. A state file per container remembers the last day shipped;
a first run looks back LOGS_SHIP_DAYS days. `--today` also ships the day so far, which the next
runs overwrite with the whole day.

Each line becomes {"ts", "container", "stream", "line"}: the line stays as the container wrote
it (the app's lines are JSON; Postgres' and Caddy's differ), `trader logs query` parses it.
"""

from __future__ import annotations

import gzip
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog

from app.ops.logs import LogsError
from app.ops.logs.settings import LogsSettings
from app.ops.logs.store import LogStore

log = structlog.get_logger(__name__)

DOCKER_TIMEOUT_SECONDS = 300


@dataclass
class ShipResult:
    lines: int = 0
    objects: list[str] = field(default_factory=list)


def parse_line(raw: str) -> tuple[str, datetime, str] | None:
    """`2026-11-20T10:00:00.123456789Z text` (docker logs --timestamps) -> (sort key with the
    nanoseconds, which order lines of one microsecond; ts to the microsecond; text)."""
    stamp, sep, text = raw.partition(" ")
    if not sep or not stamp.endswith("Z"):
        return None
    whole, _, fraction = stamp[:-1].partition(".")
    try:
        ts = datetime.fromisoformat(whole).replace(tzinfo=UTC)
        nanos = (fraction + "0" * 9)[:9]
        micros = int(nanos[:6])
    except ValueError:
        return None
    return f"{whole}.{nanos}", ts + timedelta(microseconds=micros), text


def day_records(settings: LogsSettings, container: str, day: date) -> list[dict[str, str]]:
    """The container's lines of one UTC day, both streams, in time order."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    command = [
        settings.docker_bin,
        "logs",
        "--timestamps",
        "--since",
        start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--until",
        end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        container,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=DOCKER_TIMEOUT_SECONDS)
    except FileNotFoundError:
        raise LogsError(
            f"LOGS_DOCKER_BIN={settings.docker_bin} not found: install Docker or fix the path"
        ) from None
    except subprocess.TimeoutExpired:
        raise LogsError(f"`docker logs {container}` took over {DOCKER_TIMEOUT_SECONDS} s") from None
    if done.returncode != 0:
        raise LogsError(
            f"`docker logs {container}` failed ({done.stderr.strip()}): check LOGS_CONTAINERS "
            f"(now {','.join(settings.containers)}) against `docker ps --format '{{{{.Names}}}}'`"
        )
    records = []
    for stream, out in (("stdout", done.stdout), ("stderr", done.stderr)):
        for raw in out.splitlines():
            parsed = parse_line(raw)
            if parsed and start <= parsed[1] < end:
                records.append((*parsed, stream))
    records.sort(key=lambda r: r[0])
    return [
        {"ts": ts.isoformat().replace("+00:00", "Z"), "container": container, "stream": stream, "line": text}
        for _, ts, text, stream in records
    ]


def to_ndjson_gz(records: list[dict[str, str]]) -> bytes:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    return gzip.compress(body, mtime=0)  # no timestamp in the header: same lines, same bytes


def _state_path(settings: LogsSettings, container: str) -> Path:
    return settings.state_dir / f"{container}.last-day"


def days_to_ship(settings: LogsSettings, container: str, today: date) -> list[date]:
    """Completed days after the last one shipped (a first run: the last LOGS_SHIP_DAYS)."""
    state = _state_path(settings, container)
    first = today - timedelta(days=settings.ship_days)
    if state.exists():
        first = max(first, date.fromisoformat(state.read_text().strip()) + timedelta(days=1))
    return [first + timedelta(days=n) for n in range((today - first).days)]


def ship(
    settings: LogsSettings,
    *,
    today: date | None = None,
    include_today: bool = False,
    store: LogStore | None = None,
    progress: Callable[[str], None] | None = None,
) -> ShipResult:
    store = store or LogStore(settings)
    today = today or datetime.now(UTC).date()
    result = ShipResult()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    for container in settings.containers:
        days = days_to_ship(settings, container, today)
        for day in [*days, today] if include_today else days:
            records = day_records(settings, container, day)
            key = store.key("containers", f"date={day.isoformat()}", f"{container}.ndjson.gz")
            if records:
                store.put(key, to_ndjson_gz(records), "application/x-ndjson")
                result.objects.append(key)
                result.lines += len(records)
            if day < today:  # only a completed day is done; today is shipped again tomorrow
                _state_path(settings, container).write_text(day.isoformat() + "\n")
            log.info("container_logs_shipped", container=container, day=day.isoformat(), lines=len(records))
            if progress:
                progress(f"{container} {day}: {len(records)} lines")
    return result
