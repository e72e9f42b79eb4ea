"""`trader inventory` fed a recorded `pulumi stack output --json --show-secrets`: the inventory it
writes is read by the real `ansible-inventory`, and secrets land only in a 0600 git-ignored file."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pulumi
import pytest
from typer.testing import CliRunner

from app.cli import cli
from tests.infra.harness import good_config, run_program

FIXTURES = Path(__file__).parent / "fixtures"
RECORDED = FIXTURES / "stack-output.json"
RECORDED_MANAGED = FIXTURES / "stack-output-managed.json"
SECRET_KEYS = ("spacesAccessKeyId", "spacesSecretAccessKey", "databaseUrl")


def trader_inventory(*args: str):
    return CliRunner().invoke(cli, ["inventory", *args])


def ansible_inventory_list(hosts_file: Path) -> dict:
    binary = Path(sys.executable).with_name("ansible-inventory")
    assert binary.exists(), f"{binary} is missing: install the ops extra (pip install -e '.[dev]')"
    done = subprocess.run(
        [str(binary), "-i", str(hosts_file), "--list"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"ansible-inventory rejected {hosts_file}:\n{done.stderr}"
    assert "Unable to parse" not in done.stderr, (
        f"ansible-inventory could not parse {hosts_file}:\n{done.stderr}"
    )
    return json.loads(done.stdout)


def write_recorded(tmp_path: Path, recorded: Path = RECORDED, **changes) -> Path:
    data = json.loads(recorded.read_text()) | changes
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(data))
    return path


def test_ansible_inventory_reads_the_written_inventory(tmp_path: Path):
    out = tmp_path / "prod"
    result = trader_inventory("--from", str(RECORDED), "--out", str(out))
    assert result.exit_code == 0, result.output
    listing = ansible_inventory_list(out / "hosts.yml")
    assert listing["trader"]["hosts"] == ["trader-prod"], f"group trader: {listing.get('trader')}"
    host = listing["_meta"]["hostvars"]["trader-prod"]
    recorded = json.loads(RECORDED.read_text())
    assert host["ansible_host"] == recorded["ipv4"], host
    assert host["trader_db_mode"] == "self-hosted", host
    assert host["trader_data_volume_device"] == recorded["dataVolumeDevice"], host
    # The host-layer roles' required variables come from the stack.
    assert host["hardening_ssh_admin_cidrs"] == recorded["adminCidrs"], host
    assert host["base_deploy_authorized_keys"] == recorded["sshPublicKeys"], host
    assert host["base_deploy_user"] == host["ansible_user"] == recorded["sshUser"], host
    # group_vars/all/secrets.yml is picked up too: the play sees the key without anything else.
    assert host["trader_s3_secret_access_key"] == recorded["spacesSecretAccessKey"], "secrets.yml not loaded"


def test_secrets_only_in_a_0600_file(tmp_path: Path):
    out = tmp_path / "prod"
    assert trader_inventory("--from", str(RECORDED_MANAGED), "--out", str(out)).exit_code == 0
    secrets_file = out / "group_vars" / "all" / "secrets.yml"
    assert secrets_file.stat().st_mode & 0o777 == 0o600, (
        f"{secrets_file} mode {secrets_file.stat().st_mode:o}"
    )
    recorded = json.loads(RECORDED_MANAGED.read_text())
    for path in out.rglob("*"):
        if path.is_file() and path != secrets_file:
            for key in SECRET_KEYS:
                assert recorded[key] not in path.read_text(), f"{path} contains the secret stack output {key}"
    for key in SECRET_KEYS:
        assert recorded[key] in secrets_file.read_text(), f"{secrets_file} lacks {key}"


def test_an_existing_readable_secrets_file_becomes_0600(tmp_path: Path):
    out = tmp_path / "prod"
    secrets_file = out / "group_vars" / "all" / "secrets.yml"
    secrets_file.parent.mkdir(parents=True)
    secrets_file.write_text("old: value\n")
    secrets_file.chmod(0o644)
    assert trader_inventory("--from", str(RECORDED), "--out", str(out)).exit_code == 0
    assert secrets_file.stat().st_mode & 0o777 == 0o600, (
        f"{secrets_file} kept mode {secrets_file.stat().st_mode:o}"
    )
    assert "old: value" not in secrets_file.read_text(), "the secrets file was not replaced"


def test_managed_database_tells_ansible_to_skip_the_container(tmp_path: Path):
    out = tmp_path / "prod"
    assert trader_inventory("--from", str(RECORDED_MANAGED), "--out", str(out)).exit_code == 0
    host = ansible_inventory_list(out / "hosts.yml")["_meta"]["hostvars"]["trader-prod"]
    recorded = json.loads(RECORDED_MANAGED.read_text())
    assert host["trader_db_mode"] == "managed", host
    assert host["trader_database_url"] == recorded["databaseUrl"], (
        "trader_database_url missing from the secrets"
    )


def test_outputs_printed_without_show_secrets_are_refused(tmp_path: Path):
    source = write_recorded(tmp_path, spacesSecretAccessKey="[secret]")
    result = trader_inventory("--from", str(source), "--out", str(tmp_path / "prod"))
    assert result.exit_code == 1, result.output
    assert "spacesSecretAccessKey" in result.output and "--show-secrets" in result.output, result.output
    assert not (tmp_path / "prod" / "hosts.yml").exists(), "an inventory was written from hidden secrets"


def test_missing_outputs_are_named(tmp_path: Path):
    data = json.loads(RECORDED.read_text())
    del data["ipv4"]
    source = tmp_path / "outputs.json"
    source.write_text(json.dumps(data))
    result = trader_inventory("--from", str(source), "--out", str(tmp_path / "prod"))
    assert result.exit_code == 1, result.output
    assert "ipv4" in result.output and "pulumi up" in result.output, result.output


def test_managed_mode_without_a_url_is_refused(tmp_path: Path):
    source = write_recorded(tmp_path, databaseMode="managed")
    result = trader_inventory("--from", str(source), "--out", str(tmp_path / "prod"))
    assert result.exit_code == 1 and "databaseUrl" in result.output, result.output


def _git(repo: Path, *args: str) -> None:
    git = shutil.which("git")
    assert git, "git is not installed (the Debian package git)"
    subprocess.run([git, "-C", str(repo), *args], check=True, capture_output=True)


@pytest.mark.parametrize("ignored", [False, True], ids=["tracked-path-refused", "ignored-path-written"])
def test_secrets_never_go_where_git_would_track_them(tmp_path: Path, ignored: bool):
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    if ignored:
        (repo / ".gitignore").write_text("inventories/prod/\n")
    out = repo / "inventories" / "prod"
    result = trader_inventory("--from", str(RECORDED), "--out", str(out))
    secrets_file = out / "group_vars" / "all" / "secrets.yml"
    if ignored:
        assert result.exit_code == 0, result.output
        assert secrets_file.exists(), "the ignored inventory directory was not written"
    else:
        assert result.exit_code == 1, result.output
        assert ".gitignore" in result.output, result.output
        assert not secrets_file.exists(), f"{secrets_file} written inside a git tree that would track it"


def test_this_repository_ignores_the_default_inventory():
    repo = Path(__file__).resolve().parents[2]
    git = shutil.which("git")
    assert git, "git is not installed (the Debian package git)"
    target = repo / "ansible" / "inventories" / "prod" / "group_vars" / "all" / "secrets.yml"
    done = subprocess.run([git, "-C", str(repo), "check-ignore", "-q", str(target)], check=False)
    assert done.returncode == 0, f"{target.relative_to(repo)} is not git-ignored; see .gitignore"


@pulumi.runtime.test
async def test_the_recorded_outputs_match_what_the_program_exports():
    program = await run_program(good_config(domain="example.com"))
    recorded = json.loads(RECORDED.read_text())
    assert set(recorded) == set(program.outputs), (
        f"{RECORDED.name} is stale: only recorded {set(recorded) - set(program.outputs)}, "
        f"only exported {set(program.outputs) - set(recorded)}"
    )
    managed = await run_program(good_config(database="managed"))
    assert set(json.loads(RECORDED_MANAGED.read_text())) == set(managed.outputs), (
        f"{RECORDED_MANAGED.name} is stale"
    )
