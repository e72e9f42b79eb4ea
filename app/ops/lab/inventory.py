"""The Ansible inventory for a running lab VM: connection details plus the lab's own settings."""

from __future__ import annotations

from pathlib import Path

import yaml

from app.ops.lab.image import PROBE_GUEST_ADDR, PROBE_HOST_ADDR, PROBE_PREFIX
from app.ops.lab.vm import LabVM

REPO = Path(__file__).resolve().parents[3]
DEFAULT_INVENTORY = REPO / "ansible" / "inventories" / "lab" / "hosts.yml"
# QEMU's NAT (every SSH from the host arrives from 10.0.2.2) and the probe network stand in for
# the operator's admin addresses.
LAB_ADMIN_CIDRS = ["10.0.2.0/24", f"{PROBE_HOST_ADDR.rsplit('.', 1)[0]}.0/{PROBE_PREFIX}"]


def inventory_for(vm: LabVM) -> dict:
    # Ansible passes the key and batch mode itself; the rest pins the image's host keys.
    options = vm.ssh_options()[2:]
    ssh_args = " ".join(f"{flag} {value}" for flag, value in zip(options[::2], options[1::2], strict=True)
                        if not value.startswith("BatchMode"))  # fmt: skip
    host = {
        "ansible_host": "127.0.0.1",
        "ansible_port": vm.ssh_port,
        "ansible_ssh_private_key_file": str(vm.image.key),
        "ansible_ssh_common_args": ssh_args,
        "ansible_python_interpreter": "/usr/bin/python3",
        "lab_http_port": vm.http_port,
        "lab_https_port": vm.https_port,
    }
    if vm.probe_netns:  # molecule's verify steps reach the guest from outside through it
        host |= {"lab_probe_netns": vm.probe_netns, "lab_probe_address": PROBE_GUEST_ADDR}
    group_vars = {
        # The image trusts the lab key for root, like a fresh droplet; site.yml logs in as the
        # deploy user once base has created it and falls back to root before that.
        "ansible_user": "deploy",
        "site_bootstrap_user": "root",
        "base_deploy_authorized_keys": [vm.image.public_key],
        "hardening_ssh_admin_cidrs": LAB_ADMIN_CIDRS,
    }
    return {"all": {"children": {"lab": {"hosts": {f"lab-{vm.name}": host}, "vars": group_vars}}}}


def write_inventory(vm: LabVM, path: Path = DEFAULT_INVENTORY) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(inventory_for(vm), sort_keys=False))
    path.chmod(0o600)
    return path
