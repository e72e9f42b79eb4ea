"""The probe network: a tap NIC for the guest whose other end sits in a network namespace made for
the test, so scans and login attempts reach the guest the way the internet reaches a droplet
(not through its loopback and not through QEMU's NAT).

Used by tests/lab (one namespace per pytest session) and by `trader lab up --probe` (molecule
scenarios: the VM's state records the namespace and `trader lab down` removes it).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from app.ops.lab.image import PROBE_GUEST_ADDR, PROBE_HOST_ADDR, PROBE_PREFIX, LabError


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise LabError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


@dataclass
class ProbeNet:
    netns: str
    tap: str
    guest: str = PROBE_GUEST_ADDR

    @classmethod
    def create(cls) -> ProbeNet:
        if os.geteuid() != 0:
            raise LabError("the probe network needs root: it creates a tap device and a network namespace")
        suffix = os.getpid() % 100000  # interface names stop at 15 characters
        net = cls(netns=f"trader-lab-{suffix}", tap=f"tlab{suffix}")
        _ip("tuntap", "add", "dev", net.tap, "mode", "tap")
        try:
            _ip("netns", "add", net.netns)
        except LabError:
            net.destroy()
            raise
        return net

    def attach(self) -> None:
        """After QEMU opened the tap: move it into the namespace and address it."""
        _ip("link", "set", self.tap, "netns", self.netns)
        _ip("-n", self.netns, "addr", "add", f"{PROBE_HOST_ADDR}/{PROBE_PREFIX}", "dev", self.tap)
        _ip("-n", self.netns, "link", "set", self.tap, "up")
        _ip("-n", self.netns, "link", "set", "lo", "up")

    def run(self, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.netns, *cmd],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def destroy(self) -> None:
        """Remove the tap (wherever it is now) and the namespace; missing pieces are fine."""
        subprocess.run(["ip", "-n", self.netns, "link", "del", self.tap], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.tap], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
