"""The backup role (ansible-lint and the syntax check run over all of ansible/ in
tests/lab/test_ansible_static.py): defaults in agreement with the argument
specs, units that systemd accepts, and an env file the tool reads as intended. Running it on a
host is the stack's lab test (a VM), not this file's."""

import subprocess
import sys
from pathlib import Path

import pytest

from app.ops.backup.settings import BackupSettings
from tests.support.ansible_role import (
    INVENTORY_VARS,
    defaults,
    load_env_file,
    render,
    spec_problems,
)

RECIPIENT = "age1qaswjtj7lnnm6yrnxsp3v3zshzmmfmvh526ywpgu36ts0rq9z5nqy3tf2t"


def test_every_default_has_an_argument_spec_and_back() -> None:
    assert spec_problems("backup") == []


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The role's templates rendered by Ansible itself, with its defaults and the inventory's vars."""
    out = tmp_path_factory.mktemp("backup-role")
    extra = {
        "backup_trader_bin": str(Path(sys.executable).parent / "trader"),
        "backup_env_file": str(out / "backup.env"),
        "backup_user": "root",
        "backup_age_recipients": [RECIPIENT],
    }
    return render("backup", ["trader-backup.service", "trader-backup.timer", "backup.env"], out, extra)


def test_rendered_units_pass_systemd_analyze_verify(rendered: Path) -> None:
    units = [str(rendered / "trader-backup.service"), str(rendered / "trader-backup.timer")]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, f"systemd-analyze verify rejected the units:\n{result.stderr}"


def test_rendered_env_file_configures_the_tool_from_the_inventory(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in load_env_file(rendered / "backup.env").items():
        monkeypatch.setenv(key, value)
    settings = BackupSettings()
    assert settings.database_url == INVENTORY_VARS["trader_database_url"]
    assert settings.s3_bucket == INVENTORY_VARS["trader_s3_bucket"]
    assert settings.s3_endpoint == INVENTORY_VARS["trader_s3_endpoint"]
    assert settings.s3_region == INVENTORY_VARS["trader_s3_region"]
    assert settings.age_recipients == [RECIPIENT]
    assert (settings.keep_daily, settings.keep_weekly, settings.keep_monthly) == (7, 4, 6)
    assert settings.allow_empty is False
    assert str(settings.textfile_dir) == defaults("backup")["backup_textfile_dir"]
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == INVENTORY_VARS["trader_s3_secret_access_key"]
