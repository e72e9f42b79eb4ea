"""The backup role: lint (production profile), syntax, defaults in agreement with the argument
specs, units that systemd accepts, and an env file the tool reads as intended. Running it on a
host is the stack's lab test (a VM), not this file's."""

import os
import subprocess
import sys
from pathlib import Path

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


# What `trader inventory` writes to group_vars (infra.yml and the 0600 secrets.yml).
INVENTORY_VARS = {
    "trader_s3_bucket": "trader-backups-7f3a",
    "trader_s3_endpoint": "https://fra1.digitaloceanspaces.com",
    "trader_s3_region": "fra1",
    "trader_s3_access_key_id": "DO00EXAMPLEKEY",
    "trader_s3_secret_access_key": "example-secret",
    "trader_database_url": "postgresql://trader:s3cret@127.0.0.1:5432/trader",
}
RENDER_PLAYBOOK = """
- name: Render the backup role's templates as the role would
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - {defaults}
  tasks:
    - name: Render each template
      ansible.builtin.template:
        src: {templates}/{{{{ item }}}}.j2
        dest: {out}/{{{{ item }}}}
        mode: "0600"
      loop: [trader-backup.service, trader-backup.timer, backup.env]
"""


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The role's templates rendered by Ansible itself, with its defaults and the inventory's vars."""
    out = tmp_path_factory.mktemp("backup-role")
    playbook = out / "render.yml"
    playbook.write_text(
        RENDER_PLAYBOOK.format(defaults=ROLE / "defaults" / "main.yml", templates=ROLE / "templates", out=out)
    )
    extra = INVENTORY_VARS | {
        "backup_trader_bin": str(Path(sys.executable).parent / "trader"),
        "backup_env_file": str(out / "backup.env"),
        "backup_user": "root",
        "backup_age_recipients": [RECIPIENT],
        "ansible_python_interpreter": sys.executable,  # the venv, not whatever discovery finds
    }
    (out / "extra.yml").write_text(yaml.safe_dump(extra))
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", f"@{out / 'extra.yml'}"],
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"rendering the role's templates failed:\n{result.stdout}\n{result.stderr}"
    return out


def test_rendered_units_pass_systemd_analyze_verify(rendered: Path) -> None:
    units = [str(rendered / "trader-backup.service"), str(rendered / "trader-backup.timer")]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, f"systemd-analyze verify rejected the units:\n{result.stderr}"


def test_rendered_env_file_configures_the_tool_from_the_inventory(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for line in (rendered / "backup.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    settings = BackupSettings()
    assert settings.database_url == INVENTORY_VARS["trader_database_url"]
    assert settings.s3_bucket == INVENTORY_VARS["trader_s3_bucket"]
    assert settings.s3_endpoint == INVENTORY_VARS["trader_s3_endpoint"]
    assert settings.s3_region == INVENTORY_VARS["trader_s3_region"]
    assert settings.age_recipients == [RECIPIENT]
    assert (settings.keep_daily, settings.keep_weekly, settings.keep_monthly) == (7, 4, 6)
    assert settings.allow_empty is False
    assert str(settings.textfile_dir) == defaults()["backup_textfile_dir"]
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == INVENTORY_VARS["trader_s3_secret_access_key"]
