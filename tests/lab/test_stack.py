"""The whole stack site.yml deployed on the session's lab VM, seen from the host through Caddy
over HTTPS (site.yml's convergence and second run are checked in test_host_layer.py).

Real: the Debian 13 guest, Docker, Compose, Caddy (internal CA), Postgres 17 (standing in for
TimescaleDB), Prometheus, Alertmanager, the exporters and the app, all from the lab's images.
Stand-in: Discord (tests/fakes/discord.py on the host's loopback, reached from the guest at
10.0.2.2). Grafana is not deployed in the lab (no image can be built here).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest

from tests.fakes.discord import FakeDiscord
from tests.lab.conftest import COMPOSE, HEALTH, Stack, guest_ok

pytestmark = [pytest.mark.lab, pytest.mark.timeout(9000)]

JOBS = {"trader-app", "node", "postgres", "prometheus", "alertmanager"}


def _until(check: Callable[[], object], timeout: float, what: str, interval: float = 3.0) -> object:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except httpx.HTTPError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"{what} within {timeout:.0f} s (last seen: {last!r})")


def test_idle_stack_fits_the_droplet(stack: Stack, stack_results: dict):
    """Measured right after converging, before any load: the whole stack next to its limits."""
    # The stack's containers only: the host-layer tests leave an unlimited probe container running.
    stats = guest_ok(
        stack.vm, f"sudo docker stats --no-stream --format '{{{{json .}}}}' $({COMPOSE} ps -q)"
    ).splitlines()
    assert len(stats) >= 6, f"docker stats saw {len(stats)} of the stack's containers: {stats}"
    units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}

    def size(text: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]?i?B)", text.strip()).groups()  # type: ignore[union-attr]
        return float(number) * units[unit]

    used = limit = 0.0
    for line in stats:
        usage, cap = json.loads(line)["MemUsage"].split("/")
        used, limit = used + size(usage), limit + size(cap)
    stack_results["idle_memory_mib"] = round(used / 1024**2)
    stack_results["memory_limits_mib"] = round(limit / 1024**2)
    # The droplet has 4 GiB; the host (dockerd, sshd, journald, page cache) needs the rest.
    assert used < 3 * 1024**3, f"the stack uses {used / 1024**2:.0f} MiB at idle: over 3 GiB of 4"
    assert limit <= 3.5 * 1024**3, f"the containers' limits add up to {limit / 1024**2:.0f} MiB: over 3.5 GiB"


def test_health_is_200_over_https(stack: Stack):
    answer = stack.client.get(HEALTH)
    assert answer.status_code == 200, f"GET {HEALTH} through Caddy: {answer.status_code} {answer.text}"
    assert answer.json()["database"]["reachable"] is True, answer.text


def test_plain_http_redirects_to_https(stack: Stack):
    answer = httpx.get(f"http://localhost:{stack.vm.http_port}{HEALTH}", follow_redirects=False, timeout=20)
    assert answer.status_code in (301, 308), f"port 80 answered {answer.status_code}, not a redirect"
    assert answer.headers["location"].startswith("https://"), answer.headers


def test_unauthenticated_api_call_is_401(stack: Stack):
    answer = stack.client.get("/api/v1/trades")
    assert answer.status_code == 401, f"GET /api/v1/trades without a token: {answer.status_code}"


def test_app_metrics_are_not_public(stack: Stack):
    answer = stack.client.get("/metrics")
    assert answer.status_code == 404, f"/metrics is reachable through Caddy: {answer.status_code}"


def test_trade_round_trips_into_the_database(stack: Stack):
    trade = {"ts": "2026-01-02T15:04:05Z", "symbol": "LABRT", "side": "buy", "type": "limit",
             "qty": "3", "avg_price": "101.5", "tags": ["lab"]}  # fmt: skip
    created = stack.client.post("/api/v1/trades", json=trade, headers=stack.auth)
    assert created.status_code == 201, f"POST /api/v1/trades: {created.status_code} {created.text}"
    row = stack.psql(f"select symbol, side, qty, avg_price from trades where id = {created.json()['id']}")
    symbol, side, qty, price = row.strip().split("|")
    assert (symbol, side, Decimal(qty), Decimal(price)) == ("LABRT", "buy", 3, Decimal("101.5")), row
    listed = stack.client.get("/api/v1/trades", params={"symbol": "LABRT"}, headers=stack.auth)
    assert created.json()["id"] in [t["id"] for t in listed.json()["items"]], listed.text


def test_monitoring_ui_needs_basic_auth(stack: Stack):
    for path in ("/prometheus/-/healthy", "/alertmanager/-/healthy"):
        anonymous = stack.client.get(path)
        assert anonymous.status_code == 401, f"{path} without credentials: {anonymous.status_code}"
        signed_in = stack.client.get(path, auth=stack.admin)
        assert signed_in.status_code == 200, f"{path} with the admin credentials: {signed_in.status_code}"


def test_prometheus_lists_every_target_up(stack: Stack):
    def all_up() -> dict | None:
        targets = stack.client.get("/prometheus/api/v1/targets", auth=stack.admin).json()["data"]
        health = {t["labels"]["job"]: t["health"] for t in targets["activeTargets"]}
        return health if set(health) >= JOBS and all(h == "up" for h in health.values()) else None

    # The first scrape of each job comes within one 30 s interval of Prometheus' start.
    _until(all_up, 180, f"every scrape target ({', '.join(sorted(JOBS))}) up")


def test_alertmanager_has_the_rules_receivers(stack: Stack):
    receivers = stack.client.get("/alertmanager/api/v2/receivers", auth=stack.admin)
    assert receivers.status_code == 200, receivers.text
    assert {r["name"] for r in receivers.json()} == {"discord"}, receivers.text
    rules = stack.client.get("/prometheus/api/v1/rules", auth=stack.admin).json()["data"]["groups"]
    names = {rule["name"] for group in rules for rule in group["rules"]}
    assert "TraderDatabaseDown" in names, f"the rules Prometheus loaded: {sorted(names)}"


def test_db_outage_alerts_discord_and_recovers_without_losing_writes(
    stack: Stack, fake_discord: tuple[FakeDiscord, str], stack_results: dict
):
    discord, _ = fake_discord
    before = stack.app_container()
    acknowledged: list[int] = []

    def write(n: int) -> None:
        trade = {"ts": "2026-01-03T15:04:05Z", "symbol": "OUTAGE", "side": "sell", "type": "market",
                 "qty": "1", "avg_price": str(100 + n)}  # fmt: skip
        try:
            answer = stack.client.post("/api/v1/trades", json=trade, headers=stack.auth)
        except httpx.HTTPError:
            return
        if answer.status_code == 201:
            acknowledged.append(answer.json()["id"])

    for n in range(3):
        write(n)
    guest_ok(stack.vm, f"{COMPOSE} stop db")
    stopped = time.monotonic()
    try:
        _until(
            lambda: stack.client.get(HEALTH).status_code == 503, 60, "health turning 503 with the db stopped"
        )
        for n in range(3, 6):
            write(n)  # refused while the db is down: not acknowledged, so not counted

        def alerted() -> bool:
            return any("TraderDatabaseDown" in json.dumps(m) for m in discord.messages)

        # rule `for: 1m` + 30 s scrape and evaluation + Alertmanager's group_wait 30 s
        _until(alerted, 420, "TraderDatabaseDown reaching the Discord receiver", interval=5)
        stack_results["db_down_alert_s"] = round(time.monotonic() - stopped, 1)
    finally:
        guest_ok(stack.vm, f"{COMPOSE} start db")
    _until(
        lambda: stack.client.get(HEALTH).status_code == 200, 180, "health back to 200 after the db restart"
    )
    for n in range(6, 9):
        write(n)
    after = stack.app_container()
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"]), (
        "the app container was restarted or replaced to recover from the outage"
    )
    stored = {int(i) for i in stack.psql("select id from trades where symbol = 'OUTAGE'").split()}
    lost = sorted(set(acknowledged) - stored)
    assert len(acknowledged) >= 6 and not lost, f"acknowledged {acknowledged}, lost {lost}"
