"""Fast checks of ansible/: lint (production profile) and syntax, no VM needed."""

import subprocess

from app.ops.deploy import ANSIBLE_DIR, ansible_env


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=ANSIBLE_DIR, env=ansible_env(), capture_output=True, text=True, check=False
    )


def test_ansible_lint_production_profile_is_clean():
    result = _run("ansible-lint", "--profile", "production", "--nocolor")
    assert result.returncode == 0, (
        f"ansible-lint (production) found problems:\n{result.stdout}\n{result.stderr}"
    )


def test_site_playbook_syntax_is_valid():
    # An inventory that needs no VM: syntax-check only parses.
    result = _run("ansible-playbook", "--syntax-check", "-i", "localhost,", "site.yml")
    assert result.returncode == 0, f"ansible-playbook --syntax-check site.yml failed:\n{result.stderr}"
