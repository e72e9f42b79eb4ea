"""The run's outcome for node-exporter's textfile collector (names: /work/brief metrics contract,
alerted on by monitoring when the last success is older than 26 h).

The file is replaced atomically (write + rename), so node-exporter never reads half of it. A
failed run keeps the previous `backup_last_success_timestamp_seconds`: the age of the last good
backup is what the alert needs.
"""

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile
from prometheus_client.parser import text_string_to_metric_families

FILE_NAME = "trader_backup.prom"
LAST_SUCCESS = "backup_last_success_timestamp_seconds"


def previous_success(path: Path) -> float | None:
    if not path.exists():
        return None
    for family in text_string_to_metric_families(path.read_text()):
        for sample in family.samples:
            if sample.name == LAST_SUCCESS:
                return sample.value
    return None


def write(directory: Path, *, success: bool, size_bytes: int, duration_seconds: float, now: float) -> Path:
    path = directory / FILE_NAME
    last_success = now if success else previous_success(path)
    registry = CollectorRegistry()
    if last_success is not None:
        Gauge(LAST_SUCCESS, "Unix time of the last successful backup.", registry=registry).set(last_success)
    Gauge("backup_last_run_success", "1 if the last backup run succeeded, else 0.", registry=registry).set(
        int(success)
    )
    Gauge("backup_last_size_bytes", "Size of the last uploaded (encrypted) backup.", registry=registry).set(
        size_bytes
    )
    Gauge("backup_last_duration_seconds", "Duration of the last backup run.", registry=registry).set(
        duration_seconds
    )
    directory.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)
    path.chmod(0o644)  # node-exporter runs as its own user
    return path
