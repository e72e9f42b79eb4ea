"""`trader logs ship`: the stack's container logs to the bucket, one gzip NDJSON object per
Compose service (LOGS_SERVICES: app, db, caddy) and completed UTC day:
`containers/date=YYYY-MM-DD/<service>.ndjson.gz`.

A service's containers are found by their Compose labels, not by name: `docker ps --all --filter
label=com.docker.compose.project=<LOGS_COMPOSE_PROJECT> --filter
label=com.docker.compose.service=<service>`. Names go stale: the stack's health-gated app update
starts a new container beside the live one (`--scale app=2`) and removes the old one, so after an
update the app runs as e.g. `trader-app-2`, and the update day's lines are split between the old
container (while it still exists) and the new one.

Each day of a service is read whole from every container it has with `docker logs --timestamps
--since D --until D+1` (Docker's json-file driver keeps them, rotated by the docker role's size
limits) and merged in time order, so the object for a day is always rebuilt from the same lines: a
re-run uploads identical bytes to the same key (gzip without a timestamp) instead of adding a
copy. Lines the day's object already holds from containers that no longer exist are kept in it
(they cannot be read again). A state file per service remembers the last day shipped; a first run
looks back LOGS_SHIP_DAYS days. `--today` also ships the day so far, which the next runs overwrite
with the whole day.

Limitation: json-file logs are deleted with their container. Whatever a container logged that was
not shipped before an update removed it (or a deploy recreated it) is lost: normally the update
day's lines of the old app container up to the switch (the daily run ships a day only after
midnight), more if runs were failing. If those lines matter, run `trader logs ship --today` just
before an update: what it ships of the old container stays in the day's object; only the
minutes between that run and the switch are lost.

Each line becomes {"ts", "container", "container_name", "stream", "line"}: "container" is the
service (what `trader logs query` filters by), "container_name" the container that wrote the line,
and the line stays as the container wrote it (the app's lines are JSON; Postgres' and Caddy's
differ), `trader logs query` parses it.
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


def _docker(settings: LogsSettings, args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `docker ARGS`; a missing binary or a timeout is a LogsError, the caller checks rc."""
    try:
        return subprocess.run(
            [settings.docker_bin, *args], capture_output=True, text=True, timeout=DOCKER_TIMEOUT_SECONDS
        )
    except FileNotFoundError:
        raise LogsError(
            f"LOGS_DOCKER_BIN={settings.docker_bin} not found: install Docker or fix the path"
        ) from None
    except subprocess.TimeoutExpired:
        raise LogsError(f"`docker {args[0]}` took over {DOCKER_TIMEOUT_SECONDS} s") from None


def _settings_hint(settings: LogsSettings) -> str:
    return (
        f"check LOGS_SERVICES (now {','.join(settings.services)}) and LOGS_COMPOSE_PROJECT "
        f"(now {settings.compose_project}) against `docker compose ps --all` in the stack's directory"
    )


def service_containers(settings: LogsSettings, service: str) -> list[str]:
    """Names of every container of the Compose service that still exists, running or not."""
    done = _docker(
        settings,
        [
            "ps",
            "--all",
            "--filter",
            f"label=com.docker.compose.project={settings.compose_project}",
            "--filter",
            f"label=com.docker.compose.service={service}",
            "--format",
            "{{.Names}}",
        ],
    )
    if done.returncode != 0:
        raise LogsError(
            f"`docker ps --all --filter label=com.docker.compose.service={service}` failed "
            f"({done.stderr.strip()}): is the Docker engine running and the job's user in the docker group?"
        )
    names = sorted(line.strip() for line in done.stdout.splitlines() if line.strip())
    if not names:
        raise LogsError(
            f"Compose service {service!r} of project {settings.compose_project!r} has no container: "
            + _settings_hint(settings)
        )
    return names


def _container_day(settings: LogsSettings, name: str, start: datetime, end: datetime) -> list[tuple]:
    """(sort key, ts, text, stream) of one container's lines in [start, end)."""
    done = _docker(
        settings,
        [
            "logs",
            "--timestamps",
            "--since",
            start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "--until",
            end.strftime("%Y-%m-%dT%H:%M:%SZ"),
            name,
        ],
    )
    if done.returncode != 0:
        raise LogsError(
            f"`docker logs {name}` failed ({done.stderr.strip()}); if an update removed it since "
            f"`docker ps` listed it, run again, else {_settings_hint(settings)}"
        )
    lines = []
    for stream, out in (("stdout", done.stdout), ("stderr", done.stderr)):
        for raw in out.splitlines():
            parsed = parse_line(raw)
            if parsed and start <= parsed[1] < end:
                lines.append((*parsed, stream))
    return lines


def day_records(
    settings: LogsSettings, service: str, containers: list[str], day: date
) -> list[dict[str, str]]:
    """The service's lines of one UTC day from all its containers, both streams, in time order."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    records = [
        (key, ts, text, stream, name)
        for name in containers
        for key, ts, text, stream in _container_day(settings, name, start, end)
    ]
    records.sort(key=lambda r: (r[0], r[4]))
    return [
        {
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "container": service,
            "container_name": name,
            "stream": stream,
            "line": text,
        }
        for _, ts, text, stream, name in records
    ]


def to_ndjson_gz(records: list[dict[str, str]]) -> bytes:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    return gzip.compress(body, mtime=0)  # no timestamp in the header: same lines, same bytes


def _state_path(settings: LogsSettings, service: str) -> Path:
    return settings.state_dir / f"{service}.last-day"


def days_to_ship(settings: LogsSettings, service: str, today: date) -> list[date]:
    """Completed days after the last one shipped (a first run: the last LOGS_SHIP_DAYS)."""
    state = _state_path(settings, service)
    first = today - timedelta(days=settings.ship_days)
    if state.exists():
        first = max(first, date.fromisoformat(state.read_text().strip()) + timedelta(days=1))
    return [first + timedelta(days=n) for n in range((today - first).days)]


def _removed_containers_lines(store: LogStore, key: str, containers: list[str]) -> list[dict[str, str]]:
    """Lines the day's object already holds from containers that no longer exist: Docker deleted
    their logs with them (an update removed the old app container), so the object keeps them.
    Lines without "container_name" (shipped before it existed) are rebuilt as before."""
    body = store.get(key)
    if not body:
        return []
    try:
        old = [json.loads(line) for line in gzip.decompress(body).decode().splitlines() if line]
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LogsError(
            f"{key} in the bucket is not gzip NDJSON ({exc}): delete it to rebuild the day"
        ) from None
    return [r for r in old if r.get("container_name") and r["container_name"] not in containers]


def _by_time(record: dict[str, str]) -> datetime:
    return datetime.fromisoformat(record["ts"])


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
    # every service's containers first: a wrong service or project fails before anything ships
    containers = {service: service_containers(settings, service) for service in settings.services}
    for service, names in containers.items():
        days = days_to_ship(settings, service, today)
        for day in [*days, today] if include_today else days:
            key = store.key("containers", f"date={day.isoformat()}", f"{service}.ndjson.gz")
            fresh = day_records(settings, service, names, day)
            kept = _removed_containers_lines(store, key, names)
            # stable: lines of one container keep the nanosecond order day_records gave them
            records = sorted(kept + fresh, key=_by_time) if kept else fresh
            if records:
                store.put(key, to_ndjson_gz(records), "application/x-ndjson")
                result.objects.append(key)
                result.lines += len(fresh)
            if day < today:  # only a completed day is done; today is shipped again tomorrow
                _state_path(settings, service).write_text(day.isoformat() + "\n")
            log.info(
                "container_logs_shipped",
                service=service,
                containers=names,
                day=day.isoformat(),
                lines=len(fresh),
                kept_from_removed=len(kept),
            )
            if progress:
                gone = f", {len(kept)} kept from removed containers" if kept else ""
                progress(f"{service} ({', '.join(names)}) {day}: {len(fresh)} lines{gone}")
    return result
