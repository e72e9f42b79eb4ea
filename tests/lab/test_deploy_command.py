"""`trader deploy` chooses its target and reports failures (no VM: the lab path is replaced by a
recorder; the droplet path runs the real ansible-playbook against a host that does not answer)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import app.ops.deploy as deploy
import app.ops.lab.deploy as lab_deploy
from app.cli import cli


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_without_a_cloud_inventory_it_deploys_the_lab(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    monkeypatch.setattr(deploy, "PROD_INVENTORY", tmp_path / "inventories" / "prod" / "hosts.yml")
    monkeypatch.setattr(deploy, "REPO", tmp_path)
    calls: list[tuple[str, bool]] = []
    monkeypatch.setattr(lab_deploy, "lab_deploy", lambda name, kvm: calls.append((name, kvm)))
    result = runner.invoke(cli, ["deploy", "--name", "try"])
    assert result.exit_code == 0, result.output
    assert calls == [("try", False)]
    assert "deploying into the lab VM" in result.output and "trader inventory" in result.output


def test_a_missing_inventory_file_is_named(runner: CliRunner, tmp_path: Path):
    missing = tmp_path / "nope.yml"
    result = runner.invoke(cli, ["deploy", "--inventory", str(missing)])
    assert result.exit_code == 2
    assert f"--inventory {missing}: no such file" in result.output


def test_a_failed_site_run_exits_1_with_the_log_tail(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    # Port 9 on the loopback: nothing listens, so the first task that needs the host fails.
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n    droplet:\n      ansible_host: 127.0.0.1\n      ansible_port: 9\n"
        "      ansible_user: deploy\n"
    )
    monkeypatch.setattr(deploy, "REPO", tmp_path)
    result = runner.invoke(cli, ["deploy", "--inventory", str(inventory)])
    log = tmp_path / "reports" / "deploy.log"
    assert result.exit_code == 1, result.output
    assert "site.yml failed" in result.output and str(log) in result.output
    assert "UNREACHABLE" in log.read_text(), log.read_text()[-2000:]
