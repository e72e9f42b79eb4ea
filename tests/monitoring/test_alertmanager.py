"""Alertmanager: the committed config passes amtool, routes by severity as documented, and a real
Alertmanager delivers well-formed Discord messages to a local receiver, grouped and inhibited as
monitoring/alertmanager/alertmanager.yml says."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
import yaml

from tests.monitoring.helpers import (
    ALERTMANAGER_DIR,
    DiscordReceiver,
    free_port,
    run_tool,
    start_alertmanager,
    wait_until,
)

CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"

# https://discord.com/developers/docs/resources/message#embed-object-embed-limits
DISCORD_LIMITS = {"content": 2000, "embeds": 10, "title": 256, "description": 4096, "embed_total": 6000}


def test_amtool_accepts_the_committed_config() -> None:
    result = run_tool("amtool", "check-config", str(CONFIG))
    assert result.returncode == 0, f"amtool check-config {CONFIG} failed:\n{result.stdout}{result.stderr}"
    assert "1 templates" in result.stdout, f"the Discord template was not loaded:\n{result.stdout}"


def test_the_committed_config_holds_no_webhook_secret() -> None:
    urls = [
        d["webhook_url"]
        for r in yaml.safe_load(CONFIG.read_text())["receivers"]
        for d in r["discord_configs"]
    ]
    assert urls, f"{CONFIG}: no discord_configs receiver"
    for url in urls:
        assert url.startswith("https://discord.invalid/") and "PLACEHOLDER" in url, (
            f"{CONFIG}: webhook_url must stay the placeholder in git (got {url!r}); "
            "the deployment renders the secret"
        )


@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_every_severity_is_routed_to_discord(severity: str) -> None:
    result = run_tool(
        "amtool",
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        "--verify.receivers=discord",
        "alertname=TraderAnything",
        f"severity={severity}",
    )
    assert result.returncode == 0, (
        f"severity={severity} does not reach discord:\n{result.stdout}{result.stderr}"
    )


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def test_timers_do_not_flood_a_phone() -> None:
    route = yaml.safe_load(CONFIG.read_text())["route"]
    assert _seconds(route["group_wait"]) >= 30, f"group_wait {route['group_wait']}: wait >= 30s for siblings"
    assert _seconds(route["group_interval"]) >= 300, f"group_interval {route['group_interval']}: >= 5m"
    for child in [route, *route.get("routes", [])]:
        repeat = child.get("repeat_interval", route["repeat_interval"])
        assert _seconds(repeat) >= 4 * 3600, (
            f"route {child.get('matchers', 'root')}: repeat_interval {repeat} < 4h"
        )


@pytest.fixture(scope="module")
def discord() -> Iterator[DiscordReceiver]:
    receiver = DiscordReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory, discord: DiscordReceiver) -> Iterator[str]:
    """The committed config and template (see `start_alertmanager`) posting to the local receiver."""
    work = tmp_path_factory.mktemp("alertmanager")
    port = free_port()
    daemon = start_alertmanager(work, discord.url, port)
    url = f"http://127.0.0.1:{port}"
    try:
        daemon.wait_http(f"{url}/-/ready")
        yield url
    finally:
        daemon.stop()


def _alert(name: str, severity: str, component: str, **labels: str) -> dict:
    return {
        "labels": {"alertname": name, "severity": severity, "component": component, **labels},
        "annotations": {
            "summary": f"{name} summary sentence.",
            # as long as test_rules allows a description template to be, plus room for values
            "description": "A description that says what to do. " * 12,
            "runbook_url": f"docs/runbook.md#{name.lower()}",
        },
        # "now": an alert older than group_wait skips the wait (and its siblings) and is sent at once.
        "startsAt": datetime.now(UTC).isoformat(),
    }


def _post(alertmanager: str, alerts: list[dict]) -> None:
    response = httpx.post(f"{alertmanager}/api/v2/alerts", json=alerts, timeout=10)
    assert response.status_code == 200, (
        f"Alertmanager refused the alerts: {response.status_code} {response.text}"
    )


def _check_discord_limits(payload: dict, raw: bytes) -> list[str]:
    problems = []
    if len(payload.get("content") or "") > DISCORD_LIMITS["content"]:
        problems.append(f"content is {len(payload['content'])} chars")
    embeds = payload.get("embeds") or []
    if not payload.get("content") and not embeds:
        problems.append("neither content nor embeds: Discord answers 400")
    if len(embeds) > DISCORD_LIMITS["embeds"]:
        problems.append(f"{len(embeds)} embeds")
    total = 0
    for embed in embeds:
        title, description = embed.get("title", ""), embed.get("description", "")
        total += len(title) + len(description)
        if len(title) > DISCORD_LIMITS["title"]:
            problems.append(f"title is {len(title)} chars")
        if len(description) > DISCORD_LIMITS["description"]:
            problems.append(f"description is {len(description)} chars")
        if not isinstance(embed.get("color", 0), int):
            problems.append(f"color {embed.get('color')!r} is not an integer")
    if total > DISCORD_LIMITS["embed_total"]:
        problems.append(f"embeds total {total} chars")
    if not raw.strip().startswith(b"{"):
        problems.append("body is not a JSON object")
    return problems


def test_a_burst_of_one_alert_becomes_one_discord_message_within_limits(
    alertmanager: str, discord: DiscordReceiver
) -> None:
    burst = [
        _alert("TraderProviderHighErrorRate", "warning", "providers", provider=f"p{i}") for i in range(30)
    ]
    _post(alertmanager, burst)
    messages = wait_until(
        lambda: discord.messages_titled("TraderProviderHighErrorRate"), 30, "the grouped Discord message"
    )
    time.sleep(4)  # one more group_interval: nothing else may arrive for this group
    messages = discord.messages_titled("TraderProviderHighErrorRate")
    assert len(messages) == 1, f"30 firing series of one alert must be 1 message, got {len(messages)}"
    payload = messages[0]
    raw = discord.raw[discord.payloads.index(payload)]
    assert not _check_discord_limits(payload, raw), (
        f"payload breaks Discord's limits: {_check_discord_limits(payload, raw)}"
    )
    embed = payload["embeds"][0]
    assert embed["title"] == "[FIRING:30] TraderProviderHighErrorRate (warning)", f"title: {embed['title']!r}"
    lines = embed["description"].splitlines()
    assert lines[0] == "**TraderProviderHighErrorRate summary sentence.**", f"first line: {lines[0]!r}"
    items = [line for line in lines if line.startswith("- ")]
    assert len(items) == 6 and items[-1].startswith("- … 30 in this group, the first 5 shown"), (
        f"want 5 descriptions and a count of the rest, got {items}"
    )
    assert lines[-1] == "Runbook: docs/runbook.md#traderproviderhigherrorrate", f"last line: {lines[-1]!r}"
    assert discord.paths[0].startswith("/api/webhooks/"), f"posted to {discord.paths[0]}"


def test_database_down_silences_the_api_alerts_it_causes(alertmanager: str, discord: DiscordReceiver) -> None:
    _post(
        alertmanager,
        [
            _alert("TraderDatabaseDown", "critical", "database", job="trader-app"),
            _alert("TraderApiHighErrorRate", "critical", "api"),
            _alert("TraderApiHighLatency", "warning", "api"),
            _alert("TraderHostMemoryPressure", "warning", "host"),
        ],
    )
    wait_until(lambda: discord.messages_titled("TraderDatabaseDown"), 30, "the TraderDatabaseDown message")
    wait_until(
        lambda: discord.messages_titled("TraderHostMemoryPressure"), 30, "an unrelated alert's message"
    )
    alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=10).json()
    inhibited = {a["labels"]["alertname"] for a in alerts if a["status"]["inhibitedBy"]}
    assert inhibited == {"TraderApiHighErrorRate", "TraderApiHighLatency"}, (
        f"TraderDatabaseDown must inhibit exactly the component=api alerts, inhibited: {sorted(inhibited)}"
    )
    time.sleep(4)  # past group_wait and a group_interval for the inhibited groups
    leaked = discord.messages_titled("TraderApiHigh")
    assert not leaked, f"inhibited API alerts reached Discord: {json.dumps(leaked)[:500]}"


def test_a_resolved_alert_is_announced(alertmanager: str, discord: DiscordReceiver) -> None:
    alert = _alert("TraderBackupTooOld", "critical", "backup")
    _post(alertmanager, [alert])
    wait_until(lambda: discord.messages_titled("[FIRING:1] TraderBackupTooOld"), 30, "the firing message")
    _post(alertmanager, [{**alert, "endsAt": datetime.now(UTC).isoformat()}])
    messages = wait_until(
        lambda: discord.messages_titled("[RESOLVED] TraderBackupTooOld"), 30, "the resolved message"
    )
    description = messages[0]["embeds"][0]["description"]
    assert "\n- Resolved: A description that says what to do." in description, description


def test_a_nearly_full_disk_silences_only_its_own_fill_prediction(alertmanager: str) -> None:
    disk = {"instance": "node-exporter:9100"}
    _post(
        alertmanager,
        [
            _alert("TraderHostDiskAlmostFull", "critical", "host", mountpoint="/", **disk),
            _alert("TraderHostDiskWillFillIn24h", "warning", "host", mountpoint="/", **disk),
            _alert("TraderHostDiskWillFillIn24h", "warning", "host", mountpoint="/mnt/trader_data", **disk),
        ],
    )

    def fill_predictions() -> dict[str, bool]:
        alerts = httpx.get(f"{alertmanager}/api/v2/alerts", timeout=10).json()
        return {
            a["labels"]["mountpoint"]: bool(a["status"]["inhibitedBy"])
            for a in alerts
            if a["labels"]["alertname"] == "TraderHostDiskWillFillIn24h"
        }

    # Inhibition is computed as alerts arrive: poll until it settles (or time out naming the rule).
    wanted = {"/": True, "/mnt/trader_data": False}
    try:
        wait_until(lambda: fill_predictions() == wanted, 15, "the disk inhibition to settle")
    except AssertionError:
        raise AssertionError(
            "TraderHostDiskAlmostFull must inhibit the prediction on its own mountpoint only: "
            f"want {wanted} (mountpoint: inhibited), got {fill_predictions()}"
        ) from None
