"""Fold the stack's lab measurements into docs/benchmarks.md ("Stack on the lab VM").

tests/lab (test_stack.py and the shared site.yml runs in conftest.py) measures them on the
session's VM and writes reports/lab/stack.json.
`--run` runs the lab tests first (the host layer comes first on the same VM: an hour or more
under TCG on a shared machine); without it the last results file is used. Baselines from the
same run: the host layer's converge time next to the stack's, the first run next to the re-run,
the request count next to the failures, the memory limits next to the idle use.

    .venv/bin/python tests/benchmarks/lab_stack.py [--run]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.docsection import figure_table, fold_lab_results  # noqa: E402

RESULTS = REPO / "reports" / "lab" / "stack.json"
HOST_RESULTS = REPO / "reports" / "lab" / "host-layer.json"
HEADING = "## Stack on the lab VM"
INTRO = (
    "Measured by `tests/lab` (Debian 13 VM, QEMU TCG, 2 vCPUs, 4 GiB; lab images: "
    "Postgres 17 for TimescaleDB, no Grafana) on {stamp}; folded in by `tests/benchmarks/lab_stack.py`. "
    "`?` = not measured in that run."
)


def table(r: dict) -> str:
    host = json.loads(HOST_RESULTS.read_text()) if HOST_RESULTS.exists() else {}
    rows = [
        ("lab images, built beside the guest's boot (cached)", f"{r.get('images_s', '?')} s", "-"),
        ("stack role of site.yml on a fresh VM", f"{r.get('converge_s', '?')} s",
         f"host layer {host.get('converge_s', '?')} s"),
        ("whole site.yml on a fresh VM", f"{r.get('site_converge_s', '?')} s", "-"),
        ("stack role of the second site.yml run (idempotent)",
         f"{r.get('rerun_s', '?')} s, changed={r.get('rerun_changed', '?')} (whole run)",
         f"first run {r.get('converge_s', '?')} s"),
        ("whole second site.yml run", f"{r.get('site_rerun_s', '?')} s", "-"),
        ("app update under a request loop (stack.yml)", f"{r.get('update_s', '?')} s",
         f"first run {r.get('converge_s', '?')} s"),
        ("failed requests during the update (goal 0)", str(r.get("update_failed_requests", "?")),
         f"of {r.get('update_requests', '?')} requests"),
        ("requests closed unanswered at Caddy's reload, never applied, sent again (docs/stack.md)",
         str(r.get("update_requests_sent_again", "?")), f"of {r.get('update_requests', '?')} requests"),
        ("stack.yml re-run after the update (idempotent)", f"changed={r.get('update_rerun_changed', '?')}",
         f"second site.yml run changed={r.get('rerun_changed', '?')}"),
        ("db stopped -> alert at the Discord receiver", f"{r.get('db_down_alert_s', '?')} s",
         "rule for 1m + 30 s scrape/eval + 30 s group_wait"),
        ("memory of the whole stack at idle", f"{r.get('idle_memory_mib', '?')} MiB",
         f"limits {r.get('memory_limits_mib', '?')} MiB"),
    ]  # fmt: skip
    return figure_table(rows)


if __name__ == "__main__":
    raise SystemExit(fold_lab_results(RESULTS, HEADING, INTRO, table))
