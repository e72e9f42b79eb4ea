"""`trader deploy`: the whole deployment with one command, timed phase by phase.

To the droplet when `trader inventory` has written its inventory (or `--inventory` names one);
otherwise into the lab VM (`trader lab deploy`), so a fresh clone deploys without a cloud account.
Ansible's output goes to a log file; the console shows the phases, their times and where things are.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True, soft_wrap=True)
REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
PROD_INVENTORY = ANSIBLE_DIR / "inventories" / "prod" / "hosts.yml"
SECRETS_DIR = "/opt/trader/secrets"  # the stack role's stack_dir/secrets
T = TypeVar("T")


class Phases:
    """Runs named steps under a spinner and remembers how long each took."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def run(self, label: str, step: Callable[[Callable[[str], None]], T]) -> T:
        start = time.monotonic()
        with console.status(label) as status:
            result = step(lambda msg: status.update(f"{label}: {msg}"))
        self.seconds[label] = time.monotonic() - start
        console.print(f"{label}: done in {self.seconds[label]:.0f} s")
        return result

    def print_table(self) -> None:
        table = Table("phase", "seconds")
        for label, seconds in self.seconds.items():
            table.add_row(label, f"{seconds:.0f}")
        console.print(table)


def ansible_env() -> dict[str, str]:
    """This checkout's ansible.cfg and the virtualenv's Ansible, without colour codes in logs."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"))
    env |= {"ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


@dataclass
class Finished:
    returncode: int
    output: str  # stdout and stderr, when they were captured
    stopped: str | None  # why it was killed before it finished, if it was


def run_watched(
    cmd: list[str],
    watch: Callable[[], str | None] = lambda: None,
    timeout: float | None = None,
    poll_s: float = 10,
    **popen: Any,
) -> Finished:
    """Run `cmd`, asking `watch()` every `poll_s` seconds whether to give up (it returns the reason,
    e.g. the lab guest's kernel died) and killing it then or after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with subprocess.Popen(cmd, **popen) as proc:
        while True:
            try:
                out, _ = proc.communicate(timeout=poll_s)
                return Finished(proc.returncode, out or "", None)
            except subprocess.TimeoutExpired:
                expired = deadline is not None and time.monotonic() > deadline
                stopped = watch() or (f"timed out after {timeout:.0f} s" if expired else None)
                if stopped:
                    proc.kill()
                    out, _ = proc.communicate()  # what it printed so far
                    return Finished(proc.returncode, out or "", stopped)


def ansible_playbook(
    inventory: Path,
    playbook: str,
    *extra: str,
    watch: Callable[[], str | None] = lambda: None,
    timeout: float | None = None,
    **popen: Any,
) -> Finished:
    """ansible-playbook from this checkout's ansible/ (so its ansible.cfg applies), under run_watched."""
    return run_watched(
        ["ansible-playbook", "-i", str(inventory), playbook, *extra],
        watch,
        timeout,
        cwd=ANSIBLE_DIR,
        env=ansible_env(),
        **popen,
    )


def run_playbook(
    inventory: Path, playbook: str, log: Path, *extra: str, watch: Callable[[], str | None] = lambda: None
) -> None:
    """The playbook with its output appended to `log`; exit 1 on failure or as soon as `watch()`
    says the target is gone."""
    with log.open("a") as out:
        done = ansible_playbook(
            inventory, playbook, *extra, watch=watch, stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        why = done.stopped or f"exit {done.returncode}"
        console.print(f"[red]{playbook} failed ({why}); full log: {log}[/red]\n{tail}")
        raise typer.Exit(1)


def deploy_command(
    inventory: Annotated[
        Path | None,
        typer.Option(
            help="The droplet's Ansible inventory (default: the one `trader inventory` wrote, else the lab)."
        ),
    ] = None,
    name: Annotated[
        str, typer.Option("--name", help="Lab VM name, when deploying into the lab.")
    ] = "default",
    kvm: Annotated[bool, typer.Option(help="Lab only: use KVM instead of TCG.")] = False,
) -> None:
    """Deploy everything: site.yml to the droplet, or build, boot and deploy the lab VM."""
    if inventory is None and not PROD_INVENTORY.exists():
        console.print(
            f"No cloud inventory ({PROD_INVENTORY.relative_to(REPO)}: `pulumi up` then `trader inventory` "
            "write it), so deploying into the lab VM."
        )
        from app.ops.lab.deploy import lab_deploy

        lab_deploy(name, kvm)
        return
    target = inventory or PROD_INVENTORY
    if not target.is_file():
        console.print(f"[red]--inventory {target}: no such file[/red] (`trader inventory` writes one)")
        raise typer.Exit(2)
    log = REPO / "reports" / "deploy.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    console.print(f"Ansible's output: {log}")
    phases = Phases()
    phases.run("site.yml (host layer and stack)", lambda _r: run_playbook(target.resolve(), "site.yml", log))
    phases.print_table()
    console.print(
        "The stack answers on https://<stack_domain>/ (API under /api/v1, /prometheus/, /alertmanager/, "
        "/grafana/; user admin).\n"
        f"Generated credentials stay on the droplet, root-only: ssh deploy@<droplet> sudo cat "
        f"{SECRETS_DIR}/api_token (and admin_password)."
    )
