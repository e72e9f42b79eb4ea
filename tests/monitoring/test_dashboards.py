"""Grafana dashboards: the committed JSON is what build_dashboards.py generates, Grafana's file
provisioning would accept it (schema version, unique uids, the provisioned datasource by uid),
and every panel query returns data from a real Prometheus that scraped the running service,
node-exporter and postgres_exporter after traffic (Grafana itself has no Debian package)."""

from __future__ import annotations

import json
import math
import runpy
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.monitoring.helpers import GRAFANA_DIR
from tests.monitoring.stack import Stack
from tests.monitoring.traffic import drive

DASHBOARD_FILES = sorted((GRAFANA_DIR / "dashboards").glob("*.json"))
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml"
PROVIDERS = GRAFANA_DIR / "provisioning" / "dashboards" / "trader.yml"
# Grafana 10+ (schema 36 made datasource references uid objects).
MIN_SCHEMA_VERSION = 36
REQUIRED_DASHBOARDS = {"service", "providers", "trading", "host", "database"}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _targets() -> list[tuple[str, str, dict]]:
    """(dashboard file, panel title, target) for every query of every panel."""
    return [
        (path.name, panel["title"], target)
        for path in DASHBOARD_FILES
        for panel in _load(path)["panels"]
        for target in panel.get("targets", [])
    ]


def _datasource_uid() -> str:
    return yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]


def test_committed_json_is_what_the_generator_writes() -> None:
    expected = runpy.run_path(str(GRAFANA_DIR / "build_dashboards.py"))["rendered"]()
    actual = {p.name: p.read_text() for p in DASHBOARD_FILES}
    assert actual == expected, (
        "monitoring/grafana/dashboards/ is out of date: run `python monitoring/grafana/build_dashboards.py` "
        f"(differs: {sorted(n for n in expected.keys() | actual.keys() if actual.get(n) != expected.get(n))})"
    )


def test_the_issue_dashboards_exist() -> None:
    uids = {_load(p)["uid"].removeprefix("trader-") for p in DASHBOARD_FILES}
    assert uids >= REQUIRED_DASHBOARDS, f"missing dashboards: {sorted(REQUIRED_DASHBOARDS - uids)}"


def test_dashboards_are_provisionable() -> None:
    uids, titles = [], []
    datasource = {"type": "prometheus", "uid": _datasource_uid()}
    for path in DASHBOARD_FILES:
        board = _load(path)
        uids.append(board["uid"])
        titles.append(board["title"])
        assert isinstance(board.get("schemaVersion"), int) and board["schemaVersion"] >= MIN_SCHEMA_VERSION, (
            f"{path.name}: schemaVersion must be an integer >= {MIN_SCHEMA_VERSION}"
        )
        assert len(board["uid"]) <= 40, f"{path.name}: Grafana uids are at most 40 characters"
        assert "id" not in board or board["id"] is None, (
            f"{path.name}: a provisioned dashboard has no fixed id"
        )
        panel_ids = [p["id"] for p in board["panels"]]
        assert len(panel_ids) == len(set(panel_ids)), f"{path.name}: duplicate panel ids {panel_ids}"
        for panel in board["panels"]:
            where = f"{path.name} / {panel['title']}"
            assert panel["datasource"] == datasource, f"{where}: datasource must be {datasource}"
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{where}: panel overflows the 24-column grid"
            assert panel["targets"], f"{where}: panel has no query"
            for target in panel["targets"]:
                assert target["datasource"] == datasource, f"{where} {target['refId']}: datasource by uid"
                assert target["expr"].strip(), f"{where} {target['refId']}: empty expr"
    assert len(uids) == len(set(uids)), f"duplicate dashboard uids: {uids}"
    assert len(titles) == len(set(titles)), f"duplicate dashboard titles: {titles}"


def test_provisioning_points_at_the_dashboards_and_the_datasource() -> None:
    datasource = yaml.safe_load(DATASOURCES.read_text())
    assert datasource["apiVersion"] == 1 and datasource["datasources"][0]["type"] == "prometheus"
    providers = yaml.safe_load(PROVIDERS.read_text())
    assert providers["apiVersion"] == 1
    provider = providers["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"], (
        f"{PROVIDERS}: needs a file provider path"
    )


# --- every panel query against real data ---


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, float]]:
    stack = Stack(tmp_path_factory.mktemp("monitored-stack"))
    try:
        stack.start()
        started = time.time()
        drive(stack)
        yield stack, started
    finally:
        stack.stop()


def _grafana_to_promql(expr: str, window_seconds: int) -> str:
    """What Grafana substitutes before sending the query: a rate window that holds several
    samples at the test's scrape intervals (1 s, 3 s); $__range is the whole traffic period."""
    return expr.replace("$__rate_interval", "10s").replace("$__range", f"{window_seconds}s")


@pytest.mark.parametrize(
    ("dashboard", "panel", "target"),
    _targets(),
    ids=[f"{d}:{p}:{t['refId']}" for d, p, t in _targets()],
)
def test_panel_query_returns_data(
    scraped: tuple[Stack, float], dashboard: str, panel: str, target: dict
) -> None:
    stack, started = scraped
    end = time.time()
    query = _grafana_to_promql(target["expr"], int(end - started) + 5)
    response = httpx.get(
        f"{stack.prometheus_url}/api/v1/query_range",
        params={"query": query, "start": started - 5, "end": end, "step": 1},
        timeout=30,
    )
    body = response.json()
    assert body.get("status") == "success", f"{dashboard} / {panel}: Prometheus refused {query!r}: {body}"
    values = [float(v) for series in body["data"]["result"] for _, v in series["values"]]
    assert any(not math.isnan(v) for v in values), (
        f"{dashboard} / {panel} ({target['refId']}) shows no data after the traffic: {query}"
    )


def test_every_rule_evaluates_on_the_scraped_data(scraped: tuple[Stack, float]) -> None:
    stack, _ = scraped
    groups = httpx.get(f"{stack.prometheus_url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    broken = {r["name"]: r.get("lastError") for g in groups for r in g["rules"] if r["health"] != "ok"}
    assert groups and not broken, f"rules that fail to evaluate against real metrics: {broken}"


def test_the_database_outage_makes_its_alert_pending(scraped: tuple[Stack, float]) -> None:
    stack, _ = scraped
    alerts = httpx.get(f"{stack.prometheus_url}/api/v1/alerts", timeout=10).json()["data"]["alerts"]
    active = {(a["labels"]["alertname"], a["labels"].get("job")) for a in alerts}
    assert ("TraderDatabaseDown", "trader-app") in active and ("TraderDatabaseDown", "postgres") in active, (
        "with PostgreSQL stopped, TraderDatabaseDown must be pending for both probes; "
        f"active: {sorted(active)}"
    )


def test_prometheus_sends_alerts_to_the_alertmanager(scraped: tuple[Stack, float]) -> None:
    stack, _ = scraped
    data = httpx.get(f"{stack.prometheus_url}/api/v1/alertmanagers", timeout=10).json()["data"]
    urls = [a["url"] for a in data["activeAlertmanagers"]]
    expected = f"http://127.0.0.1:{stack.ports['alertmanager']}/api/v2/alerts"
    assert urls == [expected], f"Prometheus' Alertmanagers: {urls}, want [{expected}]"
