"""`trader lab deploy`: the whole deployment into a lab VM, as the README's quickstart runs it.

Build the lab images (cached), boot the VM (or reuse a running one), `site.yml` (the host layer,
then the Compose project with the lab's images), then print the HTTPS URLs, where the generated
credentials are, and how long each phase took. Ansible's output goes to a log file next to the
VM's state.
"""

from __future__ import annotations

from typing import Annotated

import typer

from app.ops.deploy import SECRETS_DIR, Phases, console, run_playbook


def deploy_command(
    name: Annotated[str, typer.Option("--name", help="VM name (reused if it is running).")] = "default",
    kvm: Annotated[bool, typer.Option(help="Use KVM instead of TCG (only where KVM boots guests).")] = False,
) -> None:
    """Build the lab images, boot the VM, run site.yml, print URLs and credentials."""
    lab_deploy(name, kvm)


def lab_deploy(name: str, kvm: bool) -> None:
    from app.ops.images import build
    from app.ops.lab.archives import serve_archives
    from app.ops.lab.image import LabError, ensure_image
    from app.ops.lab.inventory import DEFAULT_INVENTORY, write_inventory
    from app.ops.lab.stack import GRAFANA_NOTE, image_archives, stack_vars, write_stack_vars
    from app.ops.lab.vm import LabVM

    phases = Phases()
    try:
        images = phases.run("lab images", lambda report: build(report=report))
        vm = LabVM.load(name)
        if vm is None or not vm.running():
            image = phases.run("guest image", lambda report: ensure_image(report))
            vm = LabVM(name=name, image_dir=str(image.dir), accel="kvm" if kvm else "tcg")
            phases.run("boot", lambda report: vm.start(report))
    except LabError as err:
        console.print(f"[red]lab deploy failed:[/red] {err}")
        raise typer.Exit(1) from err
    inventory = write_inventory(vm, DEFAULT_INVENTORY)
    log = vm.dir / "deploy.log"
    console.print(f"Ansible's output: {log}")
    with serve_archives(image_archives(images)) as urls:  # type: ignore[arg-type]
        variables = write_stack_vars(stack_vars(images, urls), vm.dir / "stack-vars.json")  # type: ignore[arg-type]
        phases.run(
            "site.yml (host layer and stack)",
            lambda _r: run_playbook(inventory, "site.yml", log, "-e", f"@{variables}", watch=vm.gone),
        )

    phases.print_table()
    base = f"https://localhost:{vm.https_port}"
    secrets = f"trader lab ssh --name {name} -- sudo cat {SECRETS_DIR}"
    console.print(
        f"API:          {base}/api/v1/diag/health  (docs: {base}/docs)\n"
        f"Prometheus:   {base}/prometheus/   Alertmanager: {base}/alertmanager/  (user admin)\n"
        f"API token:    {secrets}/api_token\n"
        f"admin password: {secrets}/admin_password\n"
        f"TLS: Caddy's internal CA: {secrets}/../data/caddy/caddy/pki/authorities/local/root.crt "
        f"(or curl -k)\n"
        f"{GRAFANA_NOTE} No Discord webhook is configured in the lab: alerts stay in Alertmanager."
    )
