"""The monitored stack on loopback, for the dashboard test: the service (uvicorn, as deployed)
against its own throwaway PostgreSQL cluster and the provider fakes, node-exporter (with the
backup textfile metrics), postgres_exporter, Alertmanager (rendered as deployed), and a
Prometheus running the committed config and rules with only the addresses and intervals changed.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from app.ops.backup import textfile as backup_textfile
from app.ops.localpg import PostgresServer
from tests.fakes.discord import FakeDiscord
from tests.fakes.polygon import API_KEY as POLYGON_KEY
from tests.fakes.polygon import FakePolygon
from tests.fakes.server import serve
from tests.fakes.tradier import TOKEN as TRADIER_TOKEN
from tests.fakes.tradier import FakeTradier
from tests.monitoring.helpers import (
    REPO,
    Daemon,
    DiscordReceiver,
    free_port,
    prometheus_config,
    start_alertmanager,
    start_prometheus,
    wait_until,
)

API_TOKEN = "monitoring-test-token-0123456789"
# The jobs of prometheus.yml this stack runs; the TLS probe has its own test.
JOBS_RUN = ("trader-app", "node", "postgres", "prometheus", "alertmanager")


@dataclass
class Stack:
    work: Path
    exit: ExitStack = field(default_factory=ExitStack)
    ports: dict[str, int] = field(default_factory=dict)
    # A paid plan: every market overview is a snapshot call, so each scripted fault is used.
    polygon: FakePolygon = field(default_factory=lambda: FakePolygon(plan="starter"))
    tradier: FakeTradier = field(default_factory=FakeTradier)
    discord: FakeDiscord = field(default_factory=FakeDiscord)
    # Where Alertmanager posts (the app's own notifications go to `discord`).
    alert_receiver: DiscordReceiver = field(default_factory=DiscordReceiver)
    postgres: PostgresServer | None = None
    daemons: list[Daemon] = field(default_factory=list)

    @property
    def app_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['trader-app']}"

    @property
    def prometheus_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['prometheus']}"

    def start(self) -> Stack:
        # Its own cluster (not the session one): the traffic ends by stopping it. Default base
        # dir: the postgres user cannot enter pytest's root-only tmp directories.
        self.postgres = PostgresServer().start()
        self.exit.callback(self.postgres.destroy)
        fakes = {name: self.exit.enter_context(serve(fake.app)) for name, fake in self._fakes().items()}
        for job in JOBS_RUN:
            self.ports[job] = free_port()
        self._start_app(fakes)
        self._start_node_exporter()
        self._start_postgres_exporter()
        alertmanager = start_alertmanager(self.work, self.alert_receiver.url, self.ports["alertmanager"])
        self.daemons.append(alertmanager)
        self._start_prometheus()
        for daemon, ready in zip(self.daemons, self._ready_urls(), strict=True):
            daemon.wait_http(ready)
        wait_until(self._all_targets_up, 60, "Prometheus to scrape every target successfully")
        return self

    def stop(self) -> None:
        for daemon in reversed(self.daemons):
            daemon.stop()
        self.exit.close()
        self.alert_receiver.close()

    def _fakes(self) -> dict[str, object]:
        return {"polygon": self.polygon, "tradier": self.tradier, "discord": self.discord}

    def _ready_urls(self) -> list[str]:
        return [
            f"{self.app_url}/api/v1/diag/health",
            f"http://127.0.0.1:{self.ports['node']}/metrics",
            f"http://127.0.0.1:{self.ports['postgres']}/metrics",
            f"http://127.0.0.1:{self.ports['alertmanager']}/-/ready",
            f"{self.prometheus_url}/-/ready",
        ]

    def _daemon(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        daemon = Daemon(name, cmd, self.work, env)
        self.daemons.append(daemon)

    def _start_app(self, fakes: dict[str, str]) -> None:
        assert self.postgres is not None
        env = {
            **os.environ,
            "DATABASE_URL": self.postgres.url(),
            "API_TOKEN": API_TOKEN,
            "LOG_JSON": "true",
            "DB_PROBE_INTERVAL_SECONDS": "1",
            "POLYGON_API_KEY": POLYGON_KEY,
            "POLYGON_BASE_URL": fakes["polygon"],
            "TRADIER_ACCESS_TOKEN": TRADIER_TOKEN,
            "TRADIER_BASE_URL": fakes["tradier"],
            "TRADIER_ACCOUNT_ID": self.tradier.account_id,
            "DISCORD_WEBHOOK_URL": self.discord.webhook_url(fakes["discord"]),
            # No client-side waiting and no retries: each scripted fault shows up at once.
            "POLYGON_API_RATE": "6000",
            "TRADIER_API_RATE": "6000",
            "HTTP_MAX_RETRIES": "0",
            "POLYGON_CACHE_SECONDS": "0",
            "BREAKER_FAILURE_THRESHOLD": "2",
            # Low thresholds so the provider faults below also page Discord (trader_alerts_sent).
            "ALERT_PROVIDER_ERROR_RATIO": "0.2",
            "ALERT_RATE_LIMITED_PER_MINUTE": "1",
            "TRADING_ENABLED": "true",
            "MAX_ORDER_QTY": "10",
            # The snapshot loop on, for its dashboard panels. Cycles at the open and the close only
            # (390 min): at most one, right at start-up, before the traffic's scripted faults.
            "ENABLE_BACKGROUND_LOOPS": "true",
            "WATCHLIST_SYMBOLS": "SPY",
            "SNAPSHOT_INTERVAL_MINUTES": "390",
        }
        uvicorn = REPO / ".venv" / "bin" / "uvicorn"
        assert uvicorn.exists(), f"{uvicorn} missing: run scripts/bootstrap to build the virtualenv"
        self._daemon(
            "trader-app",
            [str(uvicorn), "app.main:app", "--host", "127.0.0.1", "--port", str(self.ports["trader-app"])],
            env,
        )

    def _start_node_exporter(self) -> None:
        textfiles = self.work / "textfile"
        # The backup command's own writer, as after a good run an hour ago.
        backup_textfile.write(
            textfiles, success=True, size_bytes=1 << 20, duration_seconds=12.5, now=time.time() - 3600
        )
        self._daemon(
            "node-exporter",
            [
                "prometheus-node-exporter",
                f"--web.listen-address=127.0.0.1:{self.ports['node']}",
                f"--collector.textfile.directory={textfiles}",
            ],
        )

    def _start_postgres_exporter(self) -> None:
        assert self.postgres is not None
        env = {**os.environ, "DATA_SOURCE_NAME": f"{self.postgres.url('postgres')}?sslmode=disable"}
        self._daemon(
            "postgres-exporter",
            ["prometheus-postgres-exporter", f"--web.listen-address=127.0.0.1:{self.ports['postgres']}"],
            env,
        )

    def _start_prometheus(self) -> None:
        addresses = {job: f"127.0.0.1:{self.ports[job]}" for job in JOBS_RUN}
        # With PostgreSQL down the exporter needs ~1.5 s to give up (10 s timeout in production).
        config = prometheus_config(self.work, addresses, slow_jobs=("postgres",))
        self.daemons.append(start_prometheus(self.work, config, self.ports["prometheus"]))

    def _all_targets_up(self) -> bool:
        targets = httpx.get(f"{self.prometheus_url}/api/v1/targets", timeout=5).json()["data"][
            "activeTargets"
        ]
        jobs = {t["labels"]["job"]: t["health"] for t in targets}
        return set(jobs) == set(JOBS_RUN) and all(h == "up" for h in jobs.values())
