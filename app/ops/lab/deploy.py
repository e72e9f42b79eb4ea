"""`trader lab deploy`: the whole deployment into a lab VM, as the README's quickstart runs it.

Build the lab images (cached), boot the VM (or reuse a running one), `site.yml` (host layer),
`stack.yml` (the Compose project), then print the HTTPS URLs, where the generated credentials
are, and how long each phase took. Ansible's output goes to a log file next to the VM's state.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True, soft_wrap=True)
ANSIBLE_DIR = Path(__file__).resolve().parents[3] / "ansible"


def _playbook(inventory: Path, playbook: str, log: Path, *extra: str) -> None:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    with log.open("a") as out:
        done = subprocess.run(
            ["ansible-playbook", "-i", str(inventory), playbook, *extra],
            cwd=ANSIBLE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
        console.print(f"[red]{playbook} failed (exit {done.returncode}); full log: {log}[/red]\n{tail}")
        raise typer.Exit(1)


def deploy_command(
    name: Annotated[str, typer.Option("--name", help="VM name (reused if it is running).")] = "default",
    kvm: Annotated[bool, typer.Option(help="Use KVM instead of TCG (only where KVM boots guests).")] = False,
) -> None:
    """Build the lab images, boot the VM, run site.yml and stack.yml, print URLs and credentials."""
    from app.ops.images import build
    from app.ops.lab.image import LabError, ensure_image
    from app.ops.lab.inventory import DEFAULT_INVENTORY, write_inventory
    from app.ops.lab.stack import GRAFANA_NOTE, stack_vars, write_stack_vars
    from app.ops.lab.vm import LabVM

    timings: dict[str, float] = {}

    def phase(label: str, step: Callable[[Callable[[str], None]], object]) -> object:
        start = time.monotonic()
        with console.status(label) as status:
            result = step(lambda msg: status.update(f"{label}: {msg}"))
        timings[label] = time.monotonic() - start
        console.print(f"{label}: done in {timings[label]:.0f} s")
        return result

    try:
        images = phase("lab images", lambda report: build(report=report))
        vm = LabVM.load(name)
        if vm is None or not vm.running():
            image = phase("guest image", lambda report: ensure_image(report))
            vm = LabVM(name=name, image_dir=str(image.dir), accel="kvm" if kvm else "tcg")
            phase("boot", lambda report: vm.start(report))
    except LabError as err:
        console.print(f"[red]lab deploy failed:[/red] {err}")
        raise typer.Exit(1) from err
    inventory = write_inventory(vm, DEFAULT_INVENTORY)
    variables = write_stack_vars(stack_vars(images), vm.dir / "stack-vars.json")  # type: ignore[arg-type]
    log = vm.dir / "deploy.log"
    console.print(f"Ansible's output: {log}")
    phase("site.yml (host layer)", lambda _r: _playbook(inventory, "site.yml", log))
    phase("stack.yml (the stack)", lambda _r: _playbook(inventory, "stack.yml", log, "-e", f"@{variables}"))

    table = Table("phase", "seconds")
    for label, seconds in timings.items():
        table.add_row(label, f"{seconds:.0f}")
    console.print(table)
    base = f"https://localhost:{vm.https_port}"
    secrets = f"trader lab ssh --name {name} -- sudo cat /opt/trader/secrets"
    console.print(
        f"API:          {base}/api/v1/diag/health  (docs: {base}/docs)\n"
        f"Prometheus:   {base}/prometheus/   Alertmanager: {base}/alertmanager/  (user admin)\n"
        f"API token:    {secrets}/api_token\n"
        f"admin password: {secrets}/admin_password\n"
        f"TLS: Caddy's internal CA: {secrets}/../data/caddy/caddy/pki/authorities/local/root.crt "
        f"(or curl -k)\n"
        f"{GRAFANA_NOTE} No Discord webhook is configured in the lab: alerts stay in Alertmanager."
    )
