"""The backup role: lint (production profile), syntax, defaults in agreement with the argument
specs, units that systemd accepts, and an env file the tool reads as intended. Running it on a
host is the stack's lab test (a VM), not this file's."""

import os
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest
import yaml

from app.ops.backup.settings import BackupSettings

ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "ansible"
ROLE = ANSIBLE_DIR / "roles" / "backup"
RECIPIENT = "age1qaswjtj7lnnm6yrnxsp3v3zshzmmfmvh526ywpgu36ts0rq9z5nqy3tf2t"


def tool_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


def test_role_passes_ansible_lint_production_profile() -> None:
    result = subprocess.run(
        ["ansible-lint", "--profile", "production", "--nocolor", "roles/backup"],
        cwd=ANSIBLE_DIR,
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"ansible-lint (production) on roles/backup:\n{result.stdout}\n{result.stderr}"
    )


def test_a_playbook_using_the_role_passes_syntax_check(tmp_path: Path) -> None:
    playbook = tmp_path / "backup.yml"
    playbook.write_text("- name: Back up the database\n  hosts: all\n  roles:\n    - role: backup\n")
    result = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", "localhost,", str(playbook)],
        cwd=ANSIBLE_DIR,
        env=tool_env() | {"ANSIBLE_ROLES_PATH": str(ANSIBLE_DIR / "roles")},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"syntax check failed:\n{result.stdout}\n{result.stderr}"


def defaults() -> dict:
    return yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())


def test_every_default_has_an_argument_spec_and_back() -> None:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"][
        "options"
    ]
    assert set(defaults()) == set(specs), (
        f"defaults only: {set(defaults()) - set(specs)}; specs only: {set(specs) - set(defaults())}"
    )
    unprefixed = [name for name in specs if not name.startswith("backup_")]
    assert not unprefixed, f"role variables must be prefixed backup_: {unprefixed}"


def render(name: str, values: dict) -> str:
    env = jinja2.Environment(  # noqa: S701 - renders unit and env files, not HTML
        loader=jinja2.FileSystemLoader(ROLE / "templates"), undefined=jinja2.StrictUndefined
    )
    return env.get_template(name).render(**values)


@pytest.fixture
def role_values(tmp_path: Path) -> dict:
    return defaults() | {
        "ansible_managed": "Ansible managed (test render)",
        "backup_trader_bin": str(Path(sys.executable).parent / "trader"),
        "backup_env_file": str(tmp_path / "backup.env"),
        "backup_user": "root",
        "backup_database_url": "postgresql://trader:s3cret@127.0.0.1:5432/trader",
        "backup_s3_bucket": "trader-backups",
        "backup_s3_access_key_id": "DO00EXAMPLEKEY",
        "backup_s3_secret_access_key": "example-secret",
        "backup_age_recipients": [RECIPIENT],
    }


def test_rendered_units_pass_systemd_analyze_verify(tmp_path: Path, role_values: dict) -> None:
    units = []
    for name in ("trader-backup.service", "trader-backup.timer"):
        path = tmp_path / name
        path.write_text(render(f"{name}.j2", role_values))
        units.append(str(path))
    Path(role_values["backup_env_file"]).write_text(render("backup.env.j2", role_values))
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, f"systemd-analyze verify rejected the units:\n{result.stderr}"


def test_rendered_env_file_configures_the_tool(role_values: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for line in render("backup.env.j2", role_values).splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    settings = BackupSettings()
    assert settings.database_url == role_values["backup_database_url"]
    assert (
        settings.s3_bucket == "trader-backups" and settings.s3_endpoint == role_values["backup_s3_endpoint"]
    )
    assert settings.age_recipients == [RECIPIENT]
    assert (settings.keep_daily, settings.keep_weekly, settings.keep_monthly) == (7, 4, 6)
    assert str(settings.textfile_dir) == role_values["backup_textfile_dir"]
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == "example-secret"
