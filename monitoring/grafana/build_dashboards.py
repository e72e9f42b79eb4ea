"""Grafana dashboards as code: `python monitoring/grafana/build_dashboards.py` rewrites
monitoring/grafana/dashboards/*.json from the definitions below.

The JSON files are what Grafana's file provisioning loads (and what is reviewed in diffs); this
script keeps their boilerplate (ids, grid positions, the datasource uid) consistent, and
tests/monitoring/test_dashboards.py fails when the two disagree. Every query is executed by that
test against a real Prometheus that scraped the running service, so a panel that would show "No
data" fails the build.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

DASHBOARDS_DIR = Path(__file__).parent / "dashboards"
# Grafana 10/11 dashboards; provisioning migrates older ones, never newer.
SCHEMA_VERSION = 39
# Fixed in provisioning/datasources/prometheus.yml so dashboards can reference it by uid.
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}

APP = 'job="trader-app"'
NODE = 'job="node"'
PG = 'job="postgres"'
# The droplet's real filesystems: root and the data volume under /mnt (as the disk alerts).
DISKS = 'job="node", mountpoint=~"/|/mnt/.+", fstype!~"tmpfs|overlay|squashfs|ramfs"'
# The droplet's own network interfaces, not Docker's bridges and veth pairs.
NICS = 'job="node", device!~"lo|veth.*|docker.*|br-.*"'
RATE = "$__rate_interval"


@dataclass
class Panel:
    title: str
    targets: list[tuple[str, str]]  # (PromQL, legend)
    unit: str = "short"
    kind: str = "timeseries"  # or "stat"
    description: str = ""
    width: int = 12
    height: int = 8


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    panels: list[Panel] = field(default_factory=list)


def stat(title: str, expr: str, unit: str = "short", legend: str = "", description: str = "") -> Panel:
    return Panel(title, [(expr, legend)], unit, "stat", description, width=6, height=4)


SERVICE = Dashboard(
    "trader-service",
    "Trader / Service",
    "The API: traffic, errors and latency by route (instrumentator metrics).",
    [
        stat("Up", f"up{{{APP}}}", description="1 when Prometheus can scrape the app"),
        stat("Requests per second", f"sum(rate(http_requests_total{{{APP}}}[{RATE}]))", "reqps"),
        stat(
            "5xx ratio",
            f'sum(rate(http_requests_total{{{APP}, status="5xx"}}[{RATE}]))'
            f" / sum(rate(http_requests_total{{{APP}}}[{RATE}]))",
            "percentunit",
            description="TraderApiHighErrorRate fires above 5% for 10 minutes",
        ),
        stat("Version", f"trader_build_info{{{APP}}}", legend="{{version}}"),
        Panel(
            "Requests by route and status",
            [
                (
                    f"sum by (handler, status) (rate(http_requests_total{{{APP}}}[{RATE}]))",
                    "{{handler}} {{status}}",
                )
            ],
            "reqps",
        ),
        Panel(
            "Errors by route (4xx and 5xx)",
            [
                (
                    f"sum by (handler, status) "
                    f'(rate(http_requests_total{{{APP}, status=~"4xx|5xx"}}[{RATE}]))',
                    "{{handler}} {{status}}",
                )
            ],
            "reqps",
        ),
        Panel(
            "Latency by route (p50/p90/p99)",
            [
                (
                    f"histogram_quantile({q}, sum by (le, handler) "
                    f"(rate(http_request_duration_seconds_bucket{{{APP}}}[{RATE}])))",
                    f"p{int(q * 100)} {{{{handler}}}}",
                )
                for q in (0.5, 0.9, 0.99)
            ],
            "s",
            width=24,
        ),
        # The watchlist snapshot loop (ENABLE_BACKGROUND_LOOPS, docs/loops.md).
        stat(
            "Snapshot loop: next cycle",
            f"trader_loop_next_cycle_timestamp_seconds{{{APP}}} * 1000",
            "dateTimeAsIso",
            description="The cycle the loop runs or waits for (ET market hours only)",
        ),
        stat(
            "Snapshot loop: overdue",
            f"clamp_min(time() - trader_loop_next_cycle_timestamp_seconds{{{APP}}}, 0)",
            "s",
            description="TraderSnapshotLoopStopped fires above 15 minutes for 5 minutes",
        ),
        stat(
            "Snapshot loop: failed cycles",
            f'sum(increase(trader_loop_cycles_total{{{APP}, outcome="failed"}}[$__range]))',
            description="Cycles in the time range with a failed symbol or given up on (provider outage)",
        ),
        stat(
            "Snapshot loop: abandoned cycles",
            f'sum(increase(trader_loop_cycles_total{{{APP}, outcome="abandoned"}}[$__range]))',
            description="Cycles interrupted by a restart and not resumed within an interval",
        ),
        Panel(
            "Snapshot loop: cycles per hour by outcome",
            [(f"sum by (outcome) (increase(trader_loop_cycles_total{{{APP}}}[1h]))", "{{outcome}}")],
            width=8,
        ),
        Panel(
            "Snapshot loop: snapshots per hour by outcome",
            [(f"sum by (outcome) (increase(trader_loop_symbols_total{{{APP}}}[1h]))", "{{outcome}}")],
            description="(symbol, horizon) units stored or failed",
            width=8,
        ),
        Panel(
            "Snapshot loop: mean cycle duration (1h)",
            [
                (
                    f"sum(increase(trader_loop_cycle_duration_seconds_sum{{{APP}}}[1h]))"
                    f" / clamp_min(sum(increase(trader_loop_cycle_duration_seconds_count{{{APP}}}[1h])), 1)",
                    "mean",
                )
            ],
            "s",
            description="0 when no cycle ran in the hour (outside market hours)",
            width=8,
        ),
    ],
)

PROVIDERS = Dashboard(
    "trader-providers",
    "Trader / Providers",
    "Outbound calls to Polygon, Tradier and Discord through the shared HTTP policy.",
    [
        Panel(
            "Calls by provider and status",
            [
                (
                    f"sum by (provider, status) (rate(trader_provider_requests_total{{{APP}}}[{RATE}]))",
                    "{{provider}} {{status}}",
                )
            ],
            "reqps",
        ),
        Panel(
            "Error ratio by provider (excluding 429)",
            [
                (
                    f"sum by (provider) "
                    f'(rate(trader_provider_requests_total{{{APP}, status!~"2..|429"}}[{RATE}]))'
                    f" / sum by (provider) (rate(trader_provider_requests_total{{{APP}}}[{RATE}]))",
                    "{{provider}}",
                )
            ],
            "percentunit",
            description="TraderProviderHighErrorRate fires above 50% for 10 minutes",
        ),
        Panel(
            "429s per minute",
            [
                (
                    f"sum by (provider) (rate(trader_provider_rate_limited_total{{{APP}}}[{RATE}])) * 60",
                    "{{provider}}",
                )
            ],
            description="TraderProviderRateLimited fires above 10 a minute for 5 minutes",
        ),
        Panel(
            "Circuit breaker open",
            [(f"max by (provider) (trader_provider_breaker_open{{{APP}}})", "{{provider}}")],
            description="1 while the app refuses to call the provider",
        ),
        Panel(
            "Provider latency p95",
            [
                (
                    f"histogram_quantile(0.95, sum by (le, provider) "
                    f"(rate(trader_provider_request_duration_seconds_bucket{{{APP}}}[{RATE}])))",
                    "{{provider}}",
                )
            ],
            "s",
            width=24,
        ),
    ],
)

TRADING = Dashboard(
    "trader-trading",
    "Trader / Trading",
    "Orders through the guardrails, rows written, Discord notifications.",
    [
        stat("Orders placed", f'sum(increase(trader_orders_total{{{APP}, outcome="placed"}}[$__range]))'),
        stat("Orders rejected", f'sum(increase(trader_orders_total{{{APP}, outcome="rejected"}}[$__range]))'),
        stat(
            "Trades written", f'sum(increase(trader_rows_written_total{{{APP}, table="trades"}}[$__range]))'
        ),
        stat(
            "Discord alerts sent",
            f'sum(increase(trader_alerts_sent_total{{{APP}, outcome="sent"}}[$__range]))',
        ),
        Panel(
            "Orders by outcome",
            [(f"sum by (outcome) (increase(trader_orders_total{{{APP}}}[{RATE}]))", "{{outcome}}")],
        ),
        Panel(
            "Orders rejected by rule",
            [(f"sum by (rule) (increase(trader_orders_rejected_total{{{APP}}}[{RATE}]))", "{{rule}}")],
            description="TraderOrdersRejected fires on any rejection",
        ),
        Panel(
            "Rows written by table",
            [(f"sum by (table) (rate(trader_rows_written_total{{{APP}}}[{RATE}]))", "{{table}}")],
            "wps",
        ),
        Panel(
            "Discord alerts by outcome",
            [(f"sum by (outcome) (increase(trader_alerts_sent_total{{{APP}}}[{RATE}]))", "{{outcome}}")],
        ),
    ],
)

HOST = Dashboard(
    "trader-host",
    "Trader / Host",
    "The droplet (node-exporter): CPU, memory, disks, network and the backup textfile metrics.",
    [
        stat(
            "Backup age",
            f"time() - backup_last_success_timestamp_seconds{{{NODE}}}",
            "s",
            description="TraderBackupTooOld fires above 26 hours",
        ),
        stat("Last backup run succeeded", f"backup_last_run_success{{{NODE}}}"),
        stat("Last backup size", f"backup_last_size_bytes{{{NODE}}}", "bytes"),
        stat("Last backup duration", f"backup_last_duration_seconds{{{NODE}}}", "s"),
        Panel(
            "CPU busy",
            [(f'1 - avg(rate(node_cpu_seconds_total{{{NODE}, mode="idle"}}[{RATE}]))', "busy")],
            "percentunit",
        ),
        Panel(
            "Memory used",
            [
                (
                    f"1 - node_memory_MemAvailable_bytes{{{NODE}}} / node_memory_MemTotal_bytes{{{NODE}}}",
                    "used",
                )
            ],
            "percentunit",
            description="TraderHostMemoryPressure fires above 90% for 15 minutes",
        ),
        Panel(
            "Disk used",
            [
                (
                    f"1 - node_filesystem_avail_bytes{{{DISKS}}} / node_filesystem_size_bytes{{{DISKS}}}",
                    "{{mountpoint}}",
                )
            ],
            "percentunit",
        ),
        Panel(
            "Disk free in 24h (predicted)",
            [(f"predict_linear(node_filesystem_avail_bytes{{{DISKS}}}[6h], 24 * 3600)", "{{mountpoint}}")],
            "bytes",
            description="TraderHostDiskWillFillIn24h fires when this goes below zero",
        ),
        Panel(
            "Network",
            [
                (
                    f"sum by (device) (rate(node_network_receive_bytes_total{{{NICS}}}[{RATE}]))",
                    "{{device}} in",
                ),
                (
                    f"-sum by (device) (rate(node_network_transmit_bytes_total{{{NICS}}}[{RATE}]))",
                    "{{device}} out",
                ),
            ],
            "Bps",
        ),
        Panel(
            "Load",
            [(f"node_load1{{{NODE}}}", "1m"), (f"node_load5{{{NODE}}}", "5m")],
        ),
    ],
)

DATABASE = Dashboard(
    "trader-database",
    "Trader / Database",
    "PostgreSQL (postgres_exporter) and the app's connection pool.",
    [
        stat("PostgreSQL up", f"pg_up{{{PG}}}", description="the exporter's view"),
        stat("App reaches the database", f"trader_db_up{{{APP}}}", description="the app's health probe"),
        stat(
            "Database size",
            f'sum(pg_database_size_bytes{{{PG}, datname!~"template.*|postgres"}})',
            "bytes",
        ),
        stat(
            "Cache hit ratio",
            f"sum(rate(pg_stat_database_blks_hit{{{PG}}}[{RATE}]))"
            f" / (sum(rate(pg_stat_database_blks_hit{{{PG}}}[{RATE}]))"
            f" + sum(rate(pg_stat_database_blks_read{{{PG}}}[{RATE}])))",
            "percentunit",
        ),
        Panel(
            "App connection pool",
            [
                (f"trader_db_pool_connections{{{APP}}}", "{{state}}"),
                (f"trader_db_pool_max{{{APP}}}", "max"),
            ],
        ),
        Panel(
            "Connections by database",
            [
                (
                    f'sum by (datname) (pg_stat_database_numbackends{{{PG}, datname!~"template.*"}})',
                    "{{datname}}",
                )
            ],
        ),
        Panel(
            "Transactions per second",
            [
                (
                    f"sum by (datname) (rate(pg_stat_database_xact_commit{{{PG}}}[{RATE}])"
                    f" + rate(pg_stat_database_xact_rollback{{{PG}}}[{RATE}]))",
                    "{{datname}}",
                )
            ],
            "ops",
        ),
        Panel(
            "Deadlocks and conflicts",
            [
                (f"sum(increase(pg_stat_database_deadlocks{{{PG}}}[{RATE}]))", "deadlocks"),
                (f"sum(increase(pg_stat_database_conflicts{{{PG}}}[{RATE}]))", "conflicts"),
            ],
        ),
    ],
)

DASHBOARDS = [SERVICE, PROVIDERS, TRADING, HOST, DATABASE]


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict:
    body: dict = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": panel.height, "w": panel.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "targets": [
            {"refId": chr(ord("A") + i), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(panel.targets)
        ],
    }
    if panel.kind == "stat":
        body["options"] = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}}
    else:
        body["options"] = {
            "legend": {"displayMode": "list", "placement": "bottom"},
            "tooltip": {"mode": "multi"},
        }
    return body


def render(dashboard: Dashboard) -> dict:
    """The provisioning JSON: panels flow left to right in a 24-column grid."""
    panels, x, y, row_height = [], 0, 0, 0
    for panel_id, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > 24:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, panel_id, x, y))
        x, row_height = x + panel.width, max(row_height, panel.height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": ["trader"],
        "timezone": "browser",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "refresh": "1m",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }


def rendered() -> dict[str, str]:
    """File name -> the JSON text it must contain."""
    return {f"{d.uid}.json": json.dumps(render(d), indent=2) + "\n" for d in DASHBOARDS}


def main() -> int:
    DASHBOARDS_DIR.mkdir(exist_ok=True)
    for name, text in rendered().items():
        (DASHBOARDS_DIR / name).write_text(text)
    sys.stdout.write(f"wrote {len(DASHBOARDS)} dashboards to {DASHBOARDS_DIR}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
