"""The lab's guest image: Debian 13 built with mmdebstrap, cached by a hash of its recipe.

Everything that decides what ends up on the disk is in `RECIPE`; its hash names the cache
directory, so changing the recipe builds a new image and never reuses a stale one. An image
directory holds the raw ext4 root (`base.raw`, made read-only: VMs boot overlays of it), the
kernel and initrd for direct boot, the login key the image trusts for root, and the image's SSH
host keys as a known_hosts file so connections to any lab VM are checked, not blindly accepted.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.ops.lab.paths import lab_home

# MAC addresses the image's network configuration matches on (see vm.py for the NICs).
UPLINK_MAC = "52:54:00:12:34:56"
PROBE_MAC = "52:54:00:0d:e0:02"
# The probe network: a point-to-point subnet between the guest's second NIC and a network
# namespace on the host, so tests can reach the guest the way the internet would.
PROBE_GUEST_ADDR = "10.213.0.2"
PROBE_HOST_ADDR = "10.213.0.1"
PROBE_PREFIX = 24
HOST_KEY_ALIAS = "solo-trader-lab"

MIRROR = os.environ.get("TRADER_LAB_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("TRADER_LAB_SECURITY_MIRROR", "http://deb.debian.org/debian-security")

# Files written into the root filesystem after mmdebstrap (path -> content).
_GUEST_FILES = {
    "etc/hostname": "lab\n",
    "etc/hosts": "127.0.0.1 localhost\n127.0.1.1 lab\n",
    "etc/fstab": "/dev/vda / ext4 rw,errors=remount-ro 0 1\n",
    # QEMU's user network: DHCP and its DNS forwarder, like a droplet's public interface.
    "etc/resolv.conf": "nameserver 10.0.2.3\n",
    # What DigitalOcean's cloud-init leaves behind: the hardening role's drop-in must win over it.
    "etc/ssh/sshd_config.d/50-cloud-init.conf": "PasswordAuthentication yes\n",
    "etc/systemd/network/10-uplink.network": (f"[Match]\nMACAddress={UPLINK_MAC}\n\n[Network]\nDHCP=ipv4\n"),
    "etc/systemd/network/20-probe.network": (
        f"[Match]\nMACAddress={PROBE_MAC}\n\n[Network]\nAddress={PROBE_GUEST_ADDR}/{PROBE_PREFIX}\n"
        "LinkLocalAddressing=no\n"
    ),
}

RECIPE: dict[str, Any] = {
    "version": 1,
    "suite": "trixie",
    "variant": "important",
    "include": [
        "systemd-sysv",
        "openssh-server",
        "linux-image-amd64",
        "python3",
        "sudo",
        "ca-certificates",
        "iproute2",
        # Not part of a droplet and untouched by site.yml: the VM tests' audit tool, installed
        # here so the audit can start while site.yml re-runs (no second apt run against its own)
        "lynis",
    ],
    "sources": [
        f"deb {MIRROR} trixie main",
        f"deb {MIRROR} trixie-updates main",
        f"deb {SECURITY_MIRROR} trixie-security main",
    ],
    "hooks": [
        'chroot "$1" systemctl enable systemd-networkd',
        # man-db re-indexes every manual page after each apt run: minutes per run in a TCG guest,
        # for pages nobody reads on a server. Its trigger does nothing without this flag file.
        'rm -f "$1/var/lib/man-db/auto-update"',
    ],
    "files": _GUEST_FILES,
    "disk_size": "12G",
}


class LabError(RuntimeError):
    """A lab step failed; the message names the step and where its log is."""


def recipe_hash() -> str:
    return hashlib.sha256(json.dumps(RECIPE, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class LabImage:
    dir: Path

    @property
    def disk(self) -> Path:
        return self.dir / "base.raw"

    @property
    def kernel(self) -> Path:
        return self.dir / "vmlinuz"

    @property
    def initrd(self) -> Path:
        return self.dir / "initrd.img"

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def public_key(self) -> str:
        return (self.dir / "id_ed25519.pub").read_text().strip()

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    def ready(self) -> bool:
        return (self.dir / "READY").exists()


def _require(tool: str, package: str) -> None:
    if shutil.which(tool) is None:
        raise LabError(f"`{tool}` not found: install the Debian package `{package}` (scripts/bootstrap does)")


def _run(step: str, cmd: list[str], log: Path) -> None:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-30:])
        raise LabError(f"image build step '{step}' failed (exit {result.returncode}); log: {log}\n{tail}")


def _build(work: Path, report: Callable[[str], None]) -> None:
    log = work / "build.log"
    rootfs = work / "rootfs"
    cmd = [
        "mmdebstrap",
        "--mode=root",
        f"--variant={RECIPE['variant']}",
        f"--include={','.join(RECIPE['include'])}",
        *[f"--customize-hook={hook}" for hook in RECIPE["hooks"]],
        RECIPE["suite"],
        str(rootfs),
        *RECIPE["sources"],
    ]
    report("bootstrapping Debian 13 with mmdebstrap (about 2 minutes)")
    _run("mmdebstrap", cmd, log)

    report("configuring the guest")
    for rel, content in RECIPE["files"].items():
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        path.write_text(content)
    _run("ssh-keygen", ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", HOST_KEY_ALIAS,
                        "-f", str(work / "id_ed25519")], log)  # fmt: skip
    ssh_dir = rootfs / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    (ssh_dir / "authorized_keys").write_text((work / "id_ed25519.pub").read_text())
    (ssh_dir / "authorized_keys").chmod(0o600)
    host_keys = sorted((rootfs / "etc/ssh").glob("ssh_host_*_key.pub"))
    (work / "known_hosts").write_text("".join(f"{HOST_KEY_ALIAS} {p.read_text()}" for p in host_keys))

    kernels = sorted((rootfs / "boot").glob("vmlinuz-*"))
    initrds = sorted((rootfs / "boot").glob("initrd.img-*"))
    if not kernels or not initrds:
        raise LabError(f"no kernel/initrd under {rootfs}/boot after mmdebstrap; log: {log}")
    shutil.copyfile(kernels[-1], work / "vmlinuz")
    shutil.copyfile(initrds[-1], work / "initrd.img")

    report("writing the ext4 disk image")
    disk = work / "base.raw"
    _run("mkfs.ext4", ["mkfs.ext4", "-q", "-F", "-L", "lab-root", "-d", str(rootfs), str(disk),
                       RECIPE["disk_size"]], log)  # fmt: skip
    disk.chmod(0o444)
    shutil.rmtree(rootfs)
    (work / "recipe.json").write_text(json.dumps(RECIPE, indent=2, sort_keys=True))


def ensure_image(report: Callable[[str], None] = lambda _msg: None) -> LabImage:
    """The cached image for the current recipe, building it first when missing."""
    images = lab_home() / "images"
    images.mkdir(parents=True, exist_ok=True)
    image = LabImage(images / recipe_hash())
    if image.ready():
        return image
    _require("mmdebstrap", "mmdebstrap")
    _require("mkfs.ext4", "e2fsprogs")
    _require("ssh-keygen", "openssh-client")
    # One builder at a time: parallel `lab up`s (molecule scenarios) wait for the first build.
    with (images / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if image.ready():
            return image
        work = Path(tempfile.mkdtemp(prefix=f"{image.dir.name}.", dir=images))
        try:
            _build(work, report)
            if image.dir.exists():
                shutil.rmtree(image.dir)
            work.rename(image.dir)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        (image.dir / "READY").touch()
    return image
