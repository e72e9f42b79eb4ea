"""`trader lab up|down|ssh|status`: a local Debian 13 VM standing in for the droplet."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.ops.lab.deploy import deploy_command

lab_cli = typer.Typer(
    help="A local Debian 13 VM (QEMU) that stands in for the droplet.", no_args_is_help=True
)
console = Console(stderr=True)

NameOpt = Annotated[str, typer.Option("--name", help="VM name: several lab VMs can run side by side.")]


@lab_cli.command()
def up(
    name: NameOpt = "default",
    inventory: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the Ansible inventory (default: ansible/inventories/lab/hosts.yml)."
        ),
    ] = None,
    kvm: Annotated[bool, typer.Option(help="Use KVM instead of TCG (only where KVM boots guests).")] = False,
    probe_tap: Annotated[
        str | None, typer.Option(help="Also attach this existing tap device as the guest's probe NIC.")
    ] = None,
    probe: Annotated[
        bool,
        typer.Option(
            help="Create a probe network (tap + network namespace, needs root) that `down` removes; "
            "the inventory names it (lab_probe_netns) so checks can reach the guest from outside."
        ),
    ] = False,
) -> None:
    """Build the image if needed (cached), boot a VM on loopback ports, write its inventory."""
    from app.ops.lab.image import PROBE_GUEST_ADDR, LabError, ensure_image
    from app.ops.lab.inventory import DEFAULT_INVENTORY, write_inventory
    from app.ops.lab.probe import ProbeNet
    from app.ops.lab.vm import LabVM

    existing = LabVM.load(name)
    if existing and existing.running():
        console.print(f"lab VM '{name}' is already running (ssh port {existing.ssh_port})")
        raise typer.Exit(0)
    if probe and probe_tap:
        console.print("[red]lab up:[/red] give either --probe or --probe-tap, not both")
        raise typer.Exit(2)
    vm: LabVM | None = None
    try:
        with console.status("preparing the lab image") as status:
            image = ensure_image(lambda msg: status.update(msg))
            net = ProbeNet.create() if probe else None
            vm = LabVM(
                name=name,
                image_dir=str(image.dir),
                accel="kvm" if kvm else "tcg",
                probe_tap=net.tap if net else probe_tap,
                probe_netns=net.netns if net else None,
            )
            vm.start(lambda msg: status.update(msg))
            if net:
                net.attach()
    except LabError as err:
        if vm is not None:  # a failed `up` leaves no QEMU, overlay or probe namespace behind
            vm.stop()
        console.print(f"[red]lab up failed:[/red] {err}")
        raise typer.Exit(1) from err
    assert vm is not None
    path = write_inventory(vm, inventory or DEFAULT_INVENTORY)
    console.print(
        f"lab VM '{name}' is up: ssh on 127.0.0.1:{vm.ssh_port}, http {vm.http_port}, https {vm.https_port}"
    )
    if vm.probe_netns:
        console.print(
            f"probe network: `ip netns exec {vm.probe_netns} ...` reaches the guest at {PROBE_GUEST_ADDR}"
        )
    console.print(f"inventory: {path}")
    console.print(f"state and console log: {vm.dir}")


@lab_cli.command()
def down(name: NameOpt = "default") -> None:
    """Stop the VM and remove its overlay disk and state (the cached image stays)."""
    from app.ops.lab.vm import LabVM, vm_dir

    vm = LabVM.load(name)
    if vm is None:
        console.print(f"no lab VM '{name}' (nothing under {vm_dir(name)})")
        return
    vm.stop()
    console.print(f"lab VM '{name}' stopped; removed {vm.dir}")


@lab_cli.command()
def status(name: NameOpt = "default") -> None:
    """Say whether the VM runs, on which ports, and where its files are."""
    from app.ops.lab.vm import LabVM

    vm = LabVM.load(name)
    if vm is None or not vm.running():
        console.print(f"lab VM '{name}' is not running")
        raise typer.Exit(1)
    console.print(f"lab VM '{name}' running (pid {vm.pid}): ssh 127.0.0.1:{vm.ssh_port}, "
                  f"http {vm.http_port}, https {vm.https_port}; files in {vm.dir}")  # fmt: skip


@lab_cli.command()
def ssh(
    name: NameOpt = "default",
    user: Annotated[
        str | None, typer.Option(help="Login user (default: deploy once site.yml ran, else root).")
    ] = None,
    command: Annotated[
        list[str] | None, typer.Argument(help="Remote command (interactive shell if none).")
    ] = None,
) -> None:
    """Open an SSH session (or run a command) on the VM."""
    from app.ops.lab.vm import LabVM

    vm = LabVM.load(name)
    if vm is None or not vm.running():
        console.print(f"lab VM '{name}' is not running: start it with `trader lab up --name {name}`")
        raise typer.Exit(1)
    if user is None:
        deploy_works = subprocess.run(vm.ssh_command("deploy", "true"), capture_output=True, check=False)
        user = "deploy" if deploy_works.returncode == 0 else "root"
    argv = vm.ssh_command(user, *(command or []), batch=bool(command))
    os.execvp(argv[0], argv)  # noqa: S606 - hand the terminal to ssh


lab_cli.command("deploy")(deploy_command)
