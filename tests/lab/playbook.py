"""Run a playbook against a lab VM and read its PLAY RECAP and ROLES RECAP."""

from __future__ import annotations

import itertools
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from app.ops.deploy import ansible_playbook
from app.ops.lab.vm import LabVM

# A fresh converge is 10-15 min on an idle 2-core machine, 30+ when the machine is shared.
PLAYBOOK_TIMEOUT_S = 3600
# Every run's whole output, numbered in run order: with profile_tasks' per-task times in it, this
# is where to look when the VM tests take longer than they should.
LOG_DIR = Path(__file__).resolve().parents[2] / "reports" / "lab" / "playbooks"
_run_number = itertools.count(1)


@dataclass
class PlaybookRun:
    returncode: int
    output: str
    seconds: float

    def recap(self, key: str) -> int:
        """Sum of `key=N` over the PLAY RECAP lines (changed, failed, unreachable, ...)."""
        recap = self.output.rsplit("PLAY RECAP", 1)[-1]
        return sum(int(n) for n in re.findall(rf"\b{key}=(\d+)", recap))

    def role_seconds(self) -> dict[str, float]:
        """Seconds spent in each role (ansible.posix.profile_roles' ROLES RECAP)."""
        recap = self.output.rsplit("ROLES RECAP", 1)[-1]
        spent = re.findall(r"^(\S+) -+ (\d+\.\d+)s$", recap, flags=re.MULTILINE)
        return {role: float(seconds) for role, seconds in spent if role != "total"}

    def failing_step(self) -> str:
        """The task that failed, with the lines Ansible printed about it."""
        lines = self.output.splitlines()
        for i, line in enumerate(lines):
            ignored = lines[i + 1 : i + 2] == ["...ignoring"]  # e.g. login.yml's probe of the deploy user
            if not ignored and (line.startswith(("fatal:", "failed:", "STOPPED:")) or "UNREACHABLE!" in line):
                task = next((t for t in reversed(lines[:i]) if t.startswith("TASK [")), "(no task)")
                return f"{task}\n" + "\n".join(lines[i : i + 15])
        return "\n".join(lines[-40:])


def run_playbook(inventory: Path, *extra: str, vm: LabVM, playbook: str = "site.yml") -> PlaybookRun:
    """The playbook against `vm`, given up as soon as the VM is gone (e.g. its kernel died under
    TCG) rather than at PLAYBOOK_TIMEOUT_S."""
    start = time.monotonic()
    done = ansible_playbook(
        inventory,
        playbook,
        *extra,
        watch=vm.gone,
        timeout=PLAYBOOK_TIMEOUT_S,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # Keep what Ansible printed before it was stopped: failing_step() then shows the task it was in.
    stopped = f"\nSTOPPED: {done.stopped}" if done.stopped else ""
    run = PlaybookRun(done.returncode, done.output + stopped, time.monotonic() - start)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{next(_run_number):02d}-{Path(playbook).stem}.log"
    log.write_text(f"{' '.join(extra)}\nexit {run.returncode} after {run.seconds:.0f} s\n\n{run.output}")
    return run
