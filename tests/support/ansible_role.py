"""Static checks shared by the tests of the timer roles (backup, logship): defaults against
argument specs, and the role's templates rendered by Ansible itself with its defaults and the
variables `trader inventory` writes."""

import subprocess
import sys
from pathlib import Path

import yaml

from app.ops.deploy import ANSIBLE_DIR, ansible_env

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
- name: Render the role's templates as the role would
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
      loop: {names}
"""


def defaults(role: str) -> dict:
    return yaml.safe_load((ANSIBLE_DIR / "roles" / role / "defaults" / "main.yml").read_text())


def spec_problems(role: str) -> list[str]:
    """Defaults without an argument spec and back, and variables not prefixed `<role>_`."""
    specs = yaml.safe_load((ANSIBLE_DIR / "roles" / role / "meta" / "argument_specs.yml").read_text())
    options = set(specs["argument_specs"]["main"]["options"])
    problems = [f"default without a spec: {n}" for n in sorted(set(defaults(role)) - options)]
    problems += [f"spec without a default: {n}" for n in sorted(options - set(defaults(role)))]
    problems += [f"not prefixed {role}_: {n}" for n in sorted(options) if not n.startswith(f"{role}_")]
    return problems


def render(role: str, names: list[str], out: Path, extra: dict) -> Path:
    """Render `templates/<name>.j2` for each name into `out` with the role's defaults, the
    inventory's variables and `extra`; fails the test with Ansible's output if it cannot."""
    role_dir = ANSIBLE_DIR / "roles" / role
    playbook = out / "render.yml"
    playbook.write_text(
        RENDER_PLAYBOOK.format(
            defaults=role_dir / "defaults" / "main.yml",
            templates=role_dir / "templates",
            out=out,
            names=names,
        )
    )
    values = INVENTORY_VARS | {"ansible_python_interpreter": sys.executable} | extra
    (out / "extra.yml").write_text(yaml.safe_dump(values))
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook), "-e", f"@{out / 'extra.yml'}"],
        env=ansible_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"rendering {role}'s templates failed:\n{result.stdout}\n{result.stderr}"
    return out


def load_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of a rendered env file."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs[key] = value
    return pairs
