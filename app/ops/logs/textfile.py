"""Run outcomes for node-exporter's textfile collector (names: /work/brief/metrics.md), alerted
on by monitoring/prometheus/rules/logs.yml when the last success gets too old.

Each command owns one file, replaced atomically (write + rename) so node-exporter never reads
half of it. A failed run keeps the previous last-success time, and `*_total` keeps counting
across runs: both are carried over from the file being replaced.
"""

import os
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ARCHIVE_FILE = "trader_logs_archive.prom"
SHIP_FILE = "trader_logs_ship.prom"


def _previous(path: Path) -> dict[str, float]:
    if not path.exists():
        return {}
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(path.read_text())
        for sample in family.samples
    }


def _write(path: Path, metrics: list[tuple[str, str, str, float | None]]) -> Path:
    lines = []
    for name, kind, help_text, value in metrics:
        if value is not None:
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", f"{name} {value!r}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text("\n".join(lines) + "\n")
    tmp.chmod(0o644)  # node-exporter runs as its own user
    tmp.replace(path)
    return path


def write_archive(directory: Path, *, success: bool, rows: int, duration_seconds: float, now: float) -> Path:
    path = directory / ARCHIVE_FILE
    before = _previous(path)
    last = now if success else before.get("logs_archive_last_success_timestamp_seconds")
    total = before.get("logs_archive_rows_total", 0.0) + rows
    return _write(
        path,
        [
            (
                "logs_archive_last_success_timestamp_seconds",
                "gauge",
                "Unix time of the last good archive run.",
                last,
            ),
            (
                "logs_archive_last_run_success",
                "gauge",
                "1 if the last archive run succeeded.",
                float(success),
            ),
            (
                "logs_archive_last_rows",
                "gauge",
                "logs rows the last archive run moved to the bucket.",
                float(rows),
            ),
            ("logs_archive_rows_total", "counter", "logs rows moved to the bucket by all runs.", total),
            (
                "logs_archive_last_duration_seconds",
                "gauge",
                "Duration of the last archive run.",
                duration_seconds,
            ),
        ],
    )


def write_ship(directory: Path, *, success: bool, lines: int, now: float) -> Path:
    path = directory / SHIP_FILE
    before = _previous(path)
    last = now if success else before.get("logs_ship_last_success_timestamp_seconds")
    return _write(
        path,
        [
            (
                "logs_ship_last_success_timestamp_seconds",
                "gauge",
                "Unix time of the last good ship run.",
                last,
            ),
            (
                "logs_ship_last_run_success",
                "gauge",
                "1 if the last container-log ship run succeeded.",
                float(success),
            ),
            (
                "logs_ship_last_lines",
                "gauge",
                "Container log lines the last ship run uploaded.",
                float(lines),
            ),
        ],
    )
