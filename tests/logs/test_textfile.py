"""The archive's and shipper's metrics files as the real node-exporter reads them (textfile
collector): the names of the metrics contract, right types and values, a failure that keeps the
last success time and the running total, and no parse error."""

from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from app.ops.logs import textfile
from app.ops.ports import free_port
from tests.monitoring.helpers import Daemon


def scrape(directory: Path, tmp_path: Path) -> dict[str, tuple[str, float]]:
    """name -> (type, value) of every sample node-exporter serves from `directory`."""
    port = free_port()
    daemon = Daemon(
        "node-exporter",
        [
            "prometheus-node-exporter",
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--collector.textfile",
            f"--collector.textfile.directory={directory}",
        ],
        tmp_path,
    )
    try:
        daemon.wait_http(f"http://127.0.0.1:{port}/metrics", timeout=30)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    finally:
        daemon.stop()
    return {s.name: (f.type, s.value) for f in text_string_to_metric_families(text) for s in f.samples}


def test_node_exporter_serves_both_files_and_a_failure_keeps_the_history(tmp_path: Path) -> None:
    directory = tmp_path / "textfile"
    textfile.write_archive(directory, success=True, rows=120, duration_seconds=3.5, now=1_700_000_000)
    textfile.write_archive(directory, success=False, rows=30, duration_seconds=1.0, now=1_700_090_000)
    textfile.write_ship(directory, success=True, lines=42, now=1_700_000_100)

    served = scrape(directory, tmp_path)

    assert served.get("node_textfile_scrape_error") == ("gauge", 0.0), (
        f"node-exporter could not parse: {served}"
    )
    expected = {
        "logs_archive_last_success_timestamp_seconds": ("gauge", 1_700_000_000.0),
        "logs_archive_last_run_success": ("gauge", 0.0),
        "logs_archive_last_rows": ("gauge", 30.0),
        "logs_archive_rows_total": ("counter", 150.0),
        "logs_archive_last_duration_seconds": ("gauge", 1.0),
        "logs_ship_last_success_timestamp_seconds": ("gauge", 1_700_000_100.0),
        "logs_ship_last_run_success": ("gauge", 1.0),
        "logs_ship_last_lines": ("gauge", 42.0),
    }
    got = {name: served.get(name) for name in expected}
    assert got == expected, "metrics as node-exporter serves them (a failed run keeps the last success time)"
