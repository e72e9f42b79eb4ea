"""Fold the lab VM test's measurements into docs/benchmarks.md ("Ansible host layer on the lab VM").

The figures are measured by the VM tests (tests/lab, marker `lab`), which write
reports/lab/host-layer.json. `--run` runs those tests first (about 45-60 minutes under TCG);
without it the last results file is used. The baseline next to the converge time is the same
run's boot-to-SSH time of the VM (what any use of the lab pays before Ansible starts).

    .venv/bin/python tests/benchmarks/lab_host_layer.py [--run]
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.docsection import figure_table, fold_lab_results  # noqa: E402

RESULTS = REPO / "reports" / "lab" / "host-layer.json"
HEADING = "## Ansible host layer on the lab VM"
INTRO = (
    "Measured by `tests/lab` (one Debian 13 VM, QEMU TCG, 2 vCPUs, 4 GiB) on {stamp}; folded in by "
    "`tests/benchmarks/lab_host_layer.py`. `?` = not measured in that run (an earlier step failed or "
    "timed out; see the test log). The lynis rows need `scripts/test -m lynis` (or `--run`), which the "
    "default run leaves out; the last run with lynis, on 2026-11-26, measured a hardening index of 84. "
    "On 2026-11-27 lynis on a `trader lab deploy` VM gave 83 in 30 min (beside other work); its "
    "slowest tests: CRYP-7902 (certificate expiry) 266 s, NETW-2600 226 s, DEB-0001 (binary scan) 186 s."
)


def table(r: dict) -> str:
    audit = r.get("ssh_audit", {})
    rows = [
        ("guest image (cached after the first build)", f"{r.get('image_s', '?')} s", "-"),
        ("boot to SSH (baseline)", f"{r.get('boot_s', '?')} s", "-"),
        (
            "host layer (base, hardening, docker) of site.yml on a fresh VM",
            f"{r.get('converge_s', '?')} s",
            f"boot {r.get('boot_s', '?')} s",
        ),
        (
            "host layer of the second site.yml run (idempotent; changed counts the whole run)",
            f"{r.get('rerun_s', '?')} s, changed={r.get('rerun_changed', '?')}",
            f"first run {r.get('converge_s', '?')} s",
        ),
        ("lynis hardening index (goal >= 80)", str(r.get("lynis_hardening_index", "?")), "-"),
        ("lynis audit time (scripts/test -m lynis)", f"{r.get('lynis_s', '?')} s", "-"),
        ("ssh-audit", f"{audit.get('fail', '?')} fail, {audit.get('warn', '?')} warn", "-"),
        ("TCP ports open from outside (1-10000)", str(r.get("open_ports_from_outside", "?")), "-"),
    ]
    return figure_table(rows)


if __name__ == "__main__":
    raise SystemExit(fold_lab_results(RESULTS, HEADING, INTRO, table))
