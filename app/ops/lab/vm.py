"""One lab VM: a copy-on-write overlay of the cached image, booted by QEMU on its own loopback ports.

State lives in `<lab home>/vms/<name>/` (overlay, console log, QEMU pidfile, state.json), so several
VMs run side by side (the lab, molecule scenarios, the test suite) and `stop()` removes all of it.
Host ports are forwarded on 127.0.0.1 only. An optional probe NIC joins the guest to a tap device
that the caller moves into a network namespace: a path to the guest that is not its loopback and not
QEMU's NAT, as the internet would see the droplet.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.ops.lab.image import HOST_KEY_ALIAS, PROBE_MAC, UPLINK_MAC, LabError, LabImage
from app.ops.lab.paths import lab_home
from app.ops.lab.probe import ProbeNet
from app.ops.ports import free_port

# QEMU's user network maps this guest-side address to the host's loopback.
HOST_FROM_GUEST = "10.0.2.2"
BOOT_TIMEOUT_S = 300  # TCG boots reach SSH in 22-90 s here; a panicked guest is caught sooner
PANIC_MARKERS = ("Kernel panic", "Oops:")


def vm_dir(name: str) -> Path:
    return lab_home() / "vms" / name


@dataclass
class LabVM:
    name: str
    image_dir: str
    ssh_port: int = 0
    http_port: int = 0
    https_port: int = 0
    accel: str = "tcg"
    cpus: int = 2
    memory_mb: int = 4096
    probe_tap: str | None = None
    # Set only when the VM owns its probe namespace (`trader lab up --probe`): stop() removes it.
    probe_netns: str | None = None
    pid: int | None = None
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def dir(self) -> Path:
        return vm_dir(self.name)

    @property
    def image(self) -> LabImage:
        return LabImage(Path(self.image_dir))

    @property
    def console_log(self) -> Path:
        return self.dir / "console.log"

    @classmethod
    def load(cls, name: str) -> LabVM | None:
        state = vm_dir(name) / "state.json"
        return cls(**json.loads(state.read_text())) if state.exists() else None

    def save(self) -> None:
        (self.dir / "state.json").write_text(json.dumps(asdict(self), indent=2))

    def running(self) -> bool:
        if not self.pid:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def ssh_options(self, batch: bool = True) -> list[str]:
        return [
            "-i", str(self.image.key),
            "-o", f"UserKnownHostsFile={self.image.known_hosts}",
            "-o", f"HostKeyAlias={HOST_KEY_ALIAS}",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "IdentitiesOnly=yes",
            "-o", f"BatchMode={'yes' if batch else 'no'}",
            "-o", "ConnectTimeout=10",
        ]  # fmt: skip

    def ssh_command(self, user: str, *remote: str, batch: bool = True) -> list[str]:
        return ["ssh", *self.ssh_options(batch), "-p", str(self.ssh_port), f"{user}@127.0.0.1", *remote]

    def _qemu_command(self) -> list[str]:
        # thread=multi: each vCPU on its own host thread. Under it the guest kernel patching its own
        # code (static keys, flipped e.g. when Docker starts containers) occasionally races the
        # other vCPU and dies with "Oops: int3" (the console watch retries a boot; one CI run lost
        # its guest mid-converge). thread=single avoids that but halves the guest's CPU: the stack
        # and lynis then starved it (health checks timed out) and the suite outgrew CI's limit.
        # qemu64, not max: under max the guest's glibc and OpenSSL pick their AVX2 code, which TCG
        # emulates instruction by instruction. Measured in one guest: Python starts in 0.7 s instead
        # of 1.1, sha256 (every layer `docker load` unpacks) runs 3.5x faster, a fork+exec 47 ms
        # instead of 58. Debian, Docker and the stack's images need nothing beyond x86-64's baseline.
        accel = ["-accel", "kvm", "-cpu", "host"] if self.accel == "kvm" else [
            "-accel", "tcg,thread=multi", "-cpu", "qemu64"]  # fmt: skip
        forwards = ",".join(
            f"hostfwd=tcp:127.0.0.1:{port}-:{guest}"
            for port, guest in ((self.ssh_port, 22), (self.http_port, 80), (self.https_port, 443))
        )
        cmd = [
            "qemu-system-x86_64", "-name", f"lab-{self.name}", *accel,
            "-m", str(self.memory_mb), "-smp", str(self.cpus),
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
            "-append", "root=/dev/vda rw console=ttyS0",
            # cache=unsafe: the overlay is thrown away with the VM, so the guest's flushes (dpkg
            # syncs every file it unpacks) need not reach the host's disk
            "-drive", f"file={self.dir / 'overlay.qcow2'},if=virtio,format=qcow2,cache=unsafe",
            "-netdev", f"user,id=uplink,{forwards}",
            "-device", f"virtio-net-pci,netdev=uplink,mac={UPLINK_MAC}",
            "-device", "virtio-rng-pci",
            "-display", "none", "-monitor", "none",
            "-serial", f"file:{self.console_log}",
            "-pidfile", str(self.dir / "qemu.pid"), "-daemonize",
        ]  # fmt: skip
        if self.probe_tap:
            cmd += [
                "-netdev", f"tap,id=probe,ifname={self.probe_tap},script=no,downscript=no",
                "-device", f"virtio-net-pci,netdev=probe,mac={PROBE_MAC}",
            ]  # fmt: skip
        return cmd

    def _boot(self) -> None:
        overlay = self.dir / "overlay.qcow2"
        overlay.unlink(missing_ok=True)
        self.console_log.unlink(missing_ok=True)
        subprocess.run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "raw",
                "-b",
                str(self.image.disk),
                str(overlay),
            ],
            check=True,
        )
        result = subprocess.run(self._qemu_command(), capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LabError(f"QEMU did not start for lab VM '{self.name}': {result.stderr.strip()}")
        self.pid = int((self.dir / "qemu.pid").read_text())
        self.save()

    def _wait_for_ssh(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            gone = self.gone()
            if gone:
                raise LabError(f"{gone} during boot")
            probe = subprocess.run(
                self.ssh_command("root", "true"), capture_output=True, check=False, timeout=30
            )
            if probe.returncode == 0:
                return
            time.sleep(2)
        raise LabError(f"lab VM '{self.name}' did not answer SSH within {timeout_s:.0f} s")

    def kernel_crash(self) -> str | None:
        """The console line where the guest's kernel died (panic or Oops), if it did."""
        if not self.console_log.exists():
            return None
        with self.console_log.open(errors="replace") as console:
            return next((line.strip() for line in console if any(m in line for m in PANIC_MARKERS)), None)

    def gone(self) -> str | None:
        """Why the guest can no longer answer, if it cannot: QEMU exited or the kernel crashed. A
        process waiting on the guest (a playbook, a test) checks this instead of its own timeout:
        the connection to QEMU's port forward stays open when the kernel dies behind it."""
        if not self.running():
            return f"QEMU of lab VM '{self.name}' exited"
        crashed = self.kernel_crash()
        return f"lab VM '{self.name}' kernel crashed: {crashed}" if crashed else None

    def console_tail(self, lines: int = 60) -> str:
        if not self.console_log.exists():
            return "(no console log)"
        return "".join(self.console_log.read_text(errors="replace").splitlines(keepends=True)[-lines:])

    def start(self, report: Callable[[str], None] = lambda _msg: None) -> LabVM:
        """Boot and wait for SSH; a guest that panics or never answers is booted once more."""
        if shutil.which("qemu-system-x86_64") is None:
            raise LabError("`qemu-system-x86_64` not found: install the Debian packages `qemu-system-x86` "
                           "and `qemu-utils` (scripts/bootstrap does)")  # fmt: skip
        self.dir.mkdir(parents=True, exist_ok=True)
        for attr in ("ssh_port", "http_port", "https_port"):
            if not getattr(self, attr):
                setattr(self, attr, free_port())
        for attempt in (1, 2):
            report(f"booting lab VM '{self.name}' (attempt {attempt}; TCG boots take 30-90 s)")
            self._boot()
            try:
                self._wait_for_ssh(BOOT_TIMEOUT_S)
                return self
            except LabError as err:
                failure = f"{err}\n--- guest console (last lines) ---\n{self.console_tail()}"
                self._kill()
                if attempt == 2:
                    raise LabError(failure) from err
                report(f"boot failed, retrying once: {err}")
        raise AssertionError("unreachable")

    def _kill(self) -> None:
        if not self.running():
            return
        assert self.pid is not None
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while self.running() and time.monotonic() < deadline:
            time.sleep(0.2)
        if self.running():
            os.kill(self.pid, signal.SIGKILL)
            while self.running():
                time.sleep(0.1)

    def stop(self) -> None:
        """Kill QEMU and remove the overlay, pidfile, console log, state and any owned probe network."""
        self._kill()
        if self.probe_netns and self.probe_tap:
            ProbeNet(self.probe_netns, self.probe_tap).destroy()
        shutil.rmtree(self.dir, ignore_errors=True)
