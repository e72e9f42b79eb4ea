"""Fold the lab VM test's measurements into docs/benchmarks.md ("Ansible host layer on the lab VM").

The figures are measured by the VM tests (tests/lab, marker `lab`), which write
reports/lab/host-layer.json. `--run` runs those tests first (about 15-20 minutes under TCG);
without it the last results file is used. The baseline next to the converge time is the same
run's boot-to-SSH time of the VM (what any use of the lab pays before Ansible starts).

    .venv/bin/python tests/benchmarks/lab_host_layer.py [--run]
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "reports" / "lab" / "host-layer.json"
DOC = REPO / "docs" / "benchmarks.md"
HEADING = "## Ansible host layer on the lab VM"


def table(r: dict) -> str:
    audit = r.get("ssh_audit", {})
    rows = [
        ("guest image (cached after the first build)", f"{r.get('image_s', '?')} s", "-"),
        ("boot to SSH (baseline)", f"{r.get('boot_s', '?')} s", "-"),
        ("site.yml on a fresh VM", f"{r.get('converge_s', '?')} s", f"boot {r.get('boot_s', '?')} s"),
        (
            "site.yml second run (idempotent)",
            f"{r.get('rerun_s', '?')} s, changed={r.get('rerun_changed', '?')}",
            f"first run {r.get('converge_s', '?')} s",
        ),
        ("lynis hardening index (goal >= 80)", str(r.get("lynis_hardening_index", "?")), "-"),
        ("ssh-audit", f"{audit.get('fail', '?')} fail, {audit.get('warn', '?')} warn", "-"),
        ("TCP ports open from outside (1-10000)", str(r.get("open_ports_from_outside", "?")), "-"),
    ]
    lines = ["| figure | value | baseline (same run) |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def main() -> int:
    if "--run" in sys.argv[1:]:
        subprocess.run([sys.executable, "-m", "pytest", "-m", "lab", "tests/lab"], cwd=REPO, check=False)
    if not RESULTS.exists():
        print(f"no results at {RESULTS}: run the lab tests (or this script with --run) first")
        return 1
    results = json.loads(RESULTS.read_text())
    body = table(results)
    print(body)
    stamp = datetime.fromtimestamp(RESULTS.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = (
        f"{HEADING}\n\nMeasured by `tests/lab` (one Debian 13 VM, QEMU TCG, 2 vCPUs, 4 GiB) on {stamp}; "
        f"folded in by `tests/benchmarks/lab_host_layer.py`. `?` = not measured in that run (an earlier "
        f"step failed or timed out; see the test log).\n\n{body}\n"
    )
    doc = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    doc = pattern.sub(section + "\n", doc) if pattern.search(doc) else doc.rstrip("\n") + "\n\n" + section
    DOC.write_text(doc)
    print(f"updated {DOC}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
