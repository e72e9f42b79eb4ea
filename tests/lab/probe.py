"""The probe network: a tap NIC for the guest whose other end sits in a network namespace made for
the test, so scans and login attempts reach the guest the way the internet reaches a droplet
(not through its loopback and not through QEMU's NAT)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from app.ops.lab.image import PROBE_GUEST_ADDR, PROBE_HOST_ADDR, PROBE_PREFIX


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class ProbeNet:
    netns: str
    tap: str
    guest: str = PROBE_GUEST_ADDR

    @classmethod
    def create(cls) -> ProbeNet:
        if os.geteuid() != 0:
            raise RuntimeError("the lab tests need root: they create a tap device and a network namespace")
        suffix = os.getpid() % 100000
        net = cls(netns=f"trader-lab-{suffix}", tap=f"tlab{suffix}")
        _ip("tuntap", "add", "dev", net.tap, "mode", "tap")
        _ip("netns", "add", net.netns)
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
        subprocess.run(["ip", "-n", self.netns, "link", "del", self.tap], capture_output=True, check=False)
        subprocess.run(["ip", "link", "del", self.tap], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", self.netns], capture_output=True, check=False)
