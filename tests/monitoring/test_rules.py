"""Prometheus config and alert rules: promtool accepts them, every alert follows the naming and
annotation conventions (STYLE.md, monitoring), has a runbook section, and is unit-tested on both
sides of its `for:` by the promtool tests in monitoring/prometheus/tests/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.monitoring.helpers import PROMETHEUS_DIR, RUNBOOK, run_tool

RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.test.yml"))
SEVERITIES = {"critical", "warning", "info"}
RUNBOOK_SECTIONS = ("Meaning", "Impact", "Diagnosis", "Mitigation")


def _alerts() -> list[dict]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


ALERTS = _alerts()


def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    # The deployment writes targets/tls.yml next to prometheus.yml; give promtool one so the
    # check covers the file_sd job instead of warning about it.
    config_dir = tmp_path / "prometheus"
    shutil.copytree(PROMETHEUS_DIR, config_dir)
    (config_dir / "targets").mkdir()
    (config_dir / "targets" / "tls.yml").write_text(
        '- targets: ["https://trader.example.com/api/v1/diag/health"]\n'
    )
    result = run_tool("promtool", "check", "config", str(config_dir / "prometheus.yml"))
    assert result.returncode == 0, f"promtool check config failed:\n{result.stdout}{result.stderr}"
    assert "WARNING" not in result.stdout + result.stderr, f"promtool warned:\n{result.stdout}{result.stderr}"


def test_promtool_accepts_the_rules() -> None:
    result = run_tool("promtool", "check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, f"promtool check rules failed:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_rule_unit_tests_pass(test_file: Path) -> None:
    result = run_tool("promtool", "test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, (
        f"promtool test rules {test_file.name} failed:\n{result.stdout}{result.stderr}"
    )


def test_every_rule_file_has_a_unit_test_file() -> None:
    tested = {
        (PROMETHEUS_DIR / "tests" / f).resolve()
        for path in TEST_FILES
        for f in yaml.safe_load(path.read_text())["rule_files"]
    }
    untested = [p.name for p in RULE_FILES if p.resolve() not in tested]
    assert not untested, f"rule files without a promtool test in monitoring/prometheus/tests/: {untested}"


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_follows_the_conventions(rule: dict) -> None:
    name = rule["alert"]
    assert re.fullmatch(r"Trader(?:[A-Z][a-z0-9]+)+", name), (
        f"{name}: alert names are <Component><Object><Condition> in CamelCase, starting with Trader"
    )
    labels, annotations = rule.get("labels", {}), rule.get("annotations", {})
    assert labels.get("severity") in SEVERITIES, f"{name}: severity must be one of {sorted(SEVERITIES)}"
    assert labels.get("component"), f"{name}: needs a component label (Alertmanager inhibition uses it)"
    missing = {"summary", "description", "runbook_url"} - annotations.keys()
    assert not missing, f"{name}: missing annotations {sorted(missing)}"
    assert "{{" not in annotations["summary"], (
        f"{name}: summary is a fixed sentence; values go in description"
    )
    assert len(annotations["description"]) <= 400, (
        f"{name}: description is {len(annotations['description'])} chars; keep it under 400 for a phone"
    )
    assert annotations["runbook_url"] == f"docs/runbook.md#{name.lower()}", (
        f"{name}: runbook_url must be docs/runbook.md#{name.lower()}"
    )


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_has_a_complete_runbook_section(rule: dict) -> None:
    name = rule["alert"]
    sections = re.split(r"^## ", RUNBOOK.read_text(), flags=re.M)
    section = next((s for s in sections if s.split("\n", 1)[0].strip() == name), None)
    assert section is not None, f"docs/runbook.md has no '## {name}' section (anchor #{name.lower()})"
    missing = [h for h in RUNBOOK_SECTIONS if f"### {h}" not in section]
    assert not missing, f"docs/runbook.md '## {name}' lacks subsections {missing}"


def _unit_test_cases() -> dict[str, dict[str, int]]:
    """alertname -> how many promtool cases expect it silent / firing."""
    cases: dict[str, dict[str, int]] = {}
    for path in TEST_FILES:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                seen = cases.setdefault(case["alertname"], {"silent": 0, "firing": 0})
                seen["firing" if case.get("exp_alerts") else "silent"] += 1
    return cases


@pytest.mark.parametrize("rule", ALERTS, ids=lambda r: r["alert"])
def test_alert_is_unit_tested_firing_and_silent(rule: dict) -> None:
    name = rule["alert"]
    seen = _unit_test_cases().get(name, {"silent": 0, "firing": 0})
    assert seen["silent"] and seen["firing"], (
        f"{name}: promtool tests must expect it both silent (before `for:`) and firing; found {seen}"
    )
    firing = [
        alert
        for path in TEST_FILES
        for test in yaml.safe_load(path.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
        if case["alertname"] == name
        for alert in case.get("exp_alerts") or []
    ]
    assert all(a.get("exp_annotations") for a in firing), f"{name}: firing cases must check the annotations"
