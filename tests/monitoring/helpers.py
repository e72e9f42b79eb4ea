"""Factories for the monitoring tests: the real Debian daemons on free loopback ports with
throwaway storage, and a local Discord webhook receiver."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml

from app.ops.ports import free_port

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "monitoring"
PROMETHEUS_DIR = MONITORING / "prometheus"
ALERTMANAGER_DIR = MONITORING / "alertmanager"
GRAFANA_DIR = MONITORING / "grafana"
RUNBOOK = REPO / "docs" / "runbook.md"

# Binary -> the Debian package that ships it (scripts/apt-packages.txt lists them).
PACKAGES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
    "prometheus-node-exporter": "prometheus-node-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
}
SCRAPE_INTERVAL = "1s"


def require_binary(name: str) -> str:
    """Path of a monitoring binary; a missing one fails the test with the package to install."""
    path = shutil.which(name)
    assert path, (
        f"`{name}` not found: install the Debian package `{PACKAGES[name]}` "
        "(scripts/bootstrap installs everything in scripts/apt-packages.txt)"
    )
    return path


def run_tool(*cmd: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    require_binary(cmd[0])
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=120)


def wait_until(check: Callable[[], object], timeout: float, what: str, interval: float = 0.2) -> object:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, OSError, ValueError) as exc:
            last_error = exc
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


class Daemon:
    """A long-running process whose output goes to a log file; `stop()` ends it (and only it)."""

    def __init__(self, name: str, cmd: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        if "/" not in cmd[0]:
            require_binary(cmd[0])
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_http(self, url: str, timeout: float = 60) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            return httpx.get(url, timeout=2).status_code == 200

        try:
            wait_until(ready, timeout, f"{self.name} at {url}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- {self.name} log ---\n{self.log_tail()}") from None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._log.close()


class DiscordReceiver:
    """Answers like Discord's webhook endpoint (204, no body) and keeps every JSON payload."""

    def __init__(self) -> None:
        self.payloads: list[dict] = []
        self.raw: list[bytes] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.raw.append(body)
                    receiver.paths.append(self.path)
                    receiver.payloads.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:  # keep pytest output clean
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.url = f"http://127.0.0.1:{self.port}/api/webhooks/1234567890/test-token"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def messages_titled(self, fragment: str) -> list[dict]:
        with self._lock:
            return [
                p for p in self.payloads if any(fragment in e.get("title", "") for e in p.get("embeds", []))
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def prometheus_config(work: Path, addresses: dict[str, str], slow_jobs: tuple[str, ...] = ()) -> Path:
    """The committed prometheus.yml and rules, rewritten for a test: only the jobs in `addresses`,
    each scraping its address there (for a probe job: the exporter it relabels to), 1 s intervals
    (3 s for `slow_jobs`), alerts sent to the `alertmanager` job's address if it has one. Jobs,
    relabelling and rules stay as committed."""
    config_dir = work / "prometheus"
    shutil.copytree(PROMETHEUS_DIR / "rules", config_dir / "rules")
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"].update(
        scrape_interval=SCRAPE_INTERVAL, scrape_timeout=SCRAPE_INTERVAL, evaluation_interval=SCRAPE_INTERVAL
    )
    if "alertmanager" in addresses:
        config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [addresses["alertmanager"]]}]}]
    else:
        del config["alerting"]
    jobs = [job for job in config["scrape_configs"] if job["job_name"] in addresses]
    for job in jobs:
        address = addresses[job["job_name"]]
        job.pop("scrape_interval", None)
        if job["job_name"] in slow_jobs:
            job.update(scrape_interval="3s", scrape_timeout="3s")
        if "static_configs" in job:
            job["static_configs"] = [{"targets": [address]}]
        for relabel in job.get("relabel_configs", []):
            if relabel.get("target_label") == "__address__":
                relabel["replacement"] = address
    config["scrape_configs"] = jobs
    path = config_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def start_prometheus(work: Path, config: Path, port: int) -> Daemon:
    return Daemon(
        "prometheus",
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={work / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        work,
    )


def prometheus_query(url: str, query: str) -> list[dict]:
    """Instant query; fails on a PromQL error rather than returning nothing."""
    body = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=10).json()
    assert body.get("status") == "success", f"Prometheus refused {query!r}: {body}"
    return body["data"]["result"]


def start_alertmanager(work: Path, webhook_url: str, port: int) -> Daemon:
    """The committed Alertmanager config and template, rendered as the deployment does (the real
    webhook URL in place of the placeholder, here a local receiver) with the group timers
    shortened from minutes to seconds; routes and inhibitions stay as committed."""
    shutil.copytree(ALERTMANAGER_DIR / "templates", work / "templates")
    config = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    config["receivers"][0]["discord_configs"][0]["webhook_url"] = webhook_url
    config["route"].update(group_wait="2s", group_interval="3s")
    (work / "alertmanager.yml").write_text(yaml.safe_dump(config))
    return Daemon(
        "alertmanager",
        [
            "prometheus-alertmanager",
            f"--config.file={work / 'alertmanager.yml'}",
            f"--storage.path={work / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",  # no gossip port: a single instance
        ],
        work,
    )
