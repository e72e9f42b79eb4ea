"""The logship role: lint (production profile), syntax, defaults in agreement with the argument
specs, units that systemd accepts, and an env file the tool reads as intended. Running it on a
host is the stack's lab test (a VM), not this file's."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from app.ops.logs.settings import LogsSettings
from tests.backups.test_ansible_role import INVENTORY_VARS, tool_env

ANSIBLE_DIR = Path(__file__).resolve().parents[2] / "ansible"
ROLE = ANSIBLE_DIR / "roles" / "logship"


def test_role_passes_ansible_lint_production_profile() -> None:
    result = subprocess.run(
        ["ansible-lint", "--profile", "production", "--nocolor", "roles/logship"],
        cwd=ANSIBLE_DIR,
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"ansible-lint (production) on roles/logship:\n{result.stdout}\n{result.stderr}"
    )


def test_a_playbook_using_the_role_passes_syntax_check(tmp_path: Path) -> None:
    playbook = tmp_path / "logship.yml"
    playbook.write_text("- name: Ship logs\n  hosts: all\n  roles:\n    - role: logship\n")
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
    unprefixed = [name for name in specs if not name.startswith("logship_")]
    assert not unprefixed, f"role variables must be prefixed logship_: {unprefixed}"


RENDER_PLAYBOOK = """
- name: Render the logship role's templates as the role would
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
      loop: [trader-logship.service, trader-logship.timer, logship.env]
"""


def render(out: Path, **over: object) -> Path:
    """The role's templates rendered by Ansible itself, with its defaults and the inventory's vars."""
    playbook = out / "render.yml"
    playbook.write_text(
        RENDER_PLAYBOOK.format(defaults=ROLE / "defaults" / "main.yml", templates=ROLE / "templates", out=out)
    )
    extra = INVENTORY_VARS | {
        "logship_trader_bin": str(Path(sys.executable).parent / "trader"),
        "logship_env_file": str(out / "logship.env"),
        "logship_user": "root",
        "ansible_python_interpreter": sys.executable,  # the venv, not whatever discovery finds
    }
    (out / "extra.yml").write_text(yaml.safe_dump(extra | over))
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", f"@{out / 'extra.yml'}"],
        env=tool_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"rendering the role's templates failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return render(tmp_path_factory.mktemp("logship-role"))


def test_rendered_units_pass_systemd_analyze_verify(rendered: Path) -> None:
    units = [str(rendered / "trader-logship.service"), str(rendered / "trader-logship.timer")]
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    assert result.returncode == 0, f"systemd-analyze verify rejected the units:\n{result.stderr}"


def test_the_service_runs_archive_then_ship_and_fails_if_either_does(rendered: Path, tmp_path: Path) -> None:
    """Run the rendered ExecStart with a stand-in `trader` that fails `logs archive`."""
    exec_start = next(
        line.removeprefix("ExecStart=")
        for line in (rendered / "trader-logship.service").read_text().splitlines()
        if line.startswith("ExecStart=")
    )
    calls = tmp_path / "calls"
    fake = tmp_path / "trader"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n[ "$2" != archive ]\n')
    fake.chmod(0o755)
    command = exec_start.replace(str(Path(sys.executable).parent / "trader"), str(fake))
    result = subprocess.run(["/bin/sh", "-c", command.removeprefix("/bin/sh -c ").strip("'")], check=False)
    assert calls.read_text().splitlines() == ["logs archive", "logs ship"], (
        "ship runs even when archive failed"
    )
    assert result.returncode != 0, "the unit must fail when archive failed"


def test_rendered_env_file_configures_the_tool_from_the_inventory(
    rendered: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for line in (rendered / "logship.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value)
    settings = LogsSettings()
    assert settings.database_url == INVENTORY_VARS["trader_database_url"]
    assert settings.s3_bucket == INVENTORY_VARS["trader_s3_bucket"]
    assert settings.s3_endpoint == INVENTORY_VARS["trader_s3_endpoint"]
    assert settings.s3_region == INVENTORY_VARS["trader_s3_region"]
    assert settings.retention_days == defaults()["logship_retention_days"]
    assert settings.containers == defaults()["logship_containers"]
    assert str(settings.textfile_dir) == defaults()["logship_textfile_dir"]
    assert str(settings.state_dir) == defaults()["logship_state_dir"]
    assert settings.s3_secret_access_key is not None
    assert settings.s3_secret_access_key.get_secret_value() == INVENTORY_VARS["trader_s3_secret_access_key"]
