"""Giving up on a lab guest that died: the console watch and the watched process (no VM needed:
the console log is written by the test, the QEMU pid is this test process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import app.ops.lab.vm as vm_module
from app.ops.deploy import run_watched
from app.ops.lab.vm import LabVM

OOPS = "[ 1503.2] Oops: int3: 0000 [#1] PREEMPT SMP NOPTI"


@pytest.fixture
def vm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LabVM:
    monkeypatch.setattr(vm_module, "lab_home", lambda: tmp_path)
    machine = LabVM(name="watched", image_dir=str(tmp_path / "image"), pid=os.getpid())
    machine.dir.mkdir(parents=True)
    machine.console_log.write_text("[    0.0] Linux version 6.12\nDebian GNU/Linux 13 lab ttyS0\n")
    return machine


def test_a_healthy_guest_is_not_gone(vm: LabVM):
    assert vm.gone() is None


def test_an_oops_on_the_console_names_the_line(vm: LabVM):
    with vm.console_log.open("a") as console:
        console.write(f"{OOPS}\n[ 1503.3] RIP: 0010:__schedule+0x1a/0x90\n")
    assert vm.gone() == f"lab VM 'watched' kernel crashed: {OOPS}"


def test_an_exited_qemu_is_gone(vm: LabVM):
    exited = subprocess.Popen(["true"])
    exited.wait()  # reaped: its pid names no process any more
    vm.pid = exited.pid
    assert vm.gone() == "QEMU of lab VM 'watched' exited"


def test_a_watched_process_is_killed_when_its_watch_gives_a_reason():
    calls: list[None] = []

    def watch() -> str | None:
        calls.append(None)
        return "the guest died" if len(calls) == 2 else None

    done = run_watched(
        [sys.executable, "-c", "print('working', flush=True); import time; time.sleep(60)"],
        watch,
        poll_s=0.2,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert (done.stopped, done.returncode) == ("the guest died", -signal.SIGKILL)
    assert done.output == "working\n", "what the process printed before it was killed is kept"


def test_a_watched_process_that_finishes_keeps_its_output_and_exit_code():
    done = run_watched(
        [sys.executable, "-c", "print('all done'); raise SystemExit(3)"],
        poll_s=0.2,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert (done.returncode, done.output, done.stopped) == (3, "all done\n", None)


def test_a_watched_process_times_out():
    done = run_watched([sys.executable, "-c", "import time; time.sleep(60)"], timeout=1, poll_s=0.2)
    assert (done.stopped, done.returncode) == ("timed out after 1 s", -signal.SIGKILL)
