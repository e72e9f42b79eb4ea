"""The logship role (ansible-lint and the syntax check run over all of ansible/ in
tests/lab/test_ansible_static.py): defaults in agreement with the argument
specs, units that systemd accepts, a service that runs both steps, and an env file the tool reads
as intended. Running it on a host is the stack's lab test (a VM), not this file's."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.ops.logs.settings import LogsSettings
from tests.support.ansible_role import (
    INVENTORY_VARS,
    defaults,
    load_env_file,
    render,
    spec_problems,
)

TRADER = str(Path(sys.executable).parent / "trader")


def test_every_default_has_an_argument_spec_and_back() -> None:
    assert spec_problems("logship") == []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("logship-role")
    extra = {
        "logship_trader_bin": TRADER,
        "logship_env_file": str(out / "logship.env"),
        "logship_user": "root",
    }
    return render("logship", ["trader-logship.service", "trader-logship.timer", "logship.env"], out, extra)


def test_rendered_units_pass_systemd_analyze_verify(rendered: Path) -> None:
    units = [str(rendered / "trader-logship.service"), str(rendered / "trader-logship.timer")]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, f"systemd-analyze verify rejected the units:\n{result.stderr}"


def test_the_service_runs_archive_then_ship_and_fails_if_either_does(rendered: Path, tmp_path: Path) -> None:
    """Run the rendered ExecStart with a stand-in `trader` whose `logs archive` fails."""
    exec_start = next(
        line.removeprefix("ExecStart=")
        for line in (rendered / "trader-logship.service").read_text().splitlines()
        if line.startswith("ExecStart=")
    )
    calls = tmp_path / "calls"
    fake = tmp_path / "trader"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n[ "$2" != archive ]\n')
    fake.chmod(0o755)
    script = exec_start.replace(TRADER, str(fake)).removeprefix("/bin/sh -c ").strip("'")
    result = subprocess.run(["/bin/sh", "-c", script], check=False)
    assert calls.read_text().splitlines() == ["logs archive", "logs ship"], (
        "ship runs even when archive failed"
    )
    assert result.returncode != 0, "the unit must fail when archive failed"


def test_rendered_env_file_configures_the_tool_from_the_inventory(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in load_env_file(rendered / "logship.env").items():
        monkeypatch.setenv(key, value)
    settings = LogsSettings()
    assert settings.database_url == INVENTORY_VARS["trader_database_url"]
    assert settings.s3_bucket == INVENTORY_VARS["trader_s3_bucket"]
    assert settings.s3_endpoint == INVENTORY_VARS["trader_s3_endpoint"]
    assert settings.s3_region == INVENTORY_VARS["trader_s3_region"]
    assert settings.retention_days == defaults("logship")["logship_retention_days"]
    assert settings.services == defaults("logship")["logship_services"]
    assert settings.compose_project == "trader", "the stack role's project when stack_project is not set"
    assert str(settings.textfile_dir) == defaults("logship")["logship_textfile_dir"]
    assert str(settings.state_dir) == defaults("logship")["logship_state_dir"]
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == INVENTORY_VARS["trader_s3_secret_access_key"]
