"""Each benchmark owns one `## Heading` section of docs/benchmarks.md and replaces only that."""

import json
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def replace_section(heading: str, section: str, doc_path: Path = DOC) -> Path:
    """Put `section` (which starts with `heading`) in place of the old one, or append it."""
    doc = doc_path.read_text() if doc_path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(doc):
        doc = pattern.sub(lambda _: section + "\n", doc)
    else:
        doc = doc.rstrip("\n") + "\n\n" + section
    doc_path.write_text(doc)
    return doc_path


def figure_table(rows: list[tuple[str, str, str]]) -> str:
    """The lab sections' three-column table: figure, value, the baseline from the same run."""
    lines = ["| figure | value | baseline (same run) |", "|---|---|---|"]
    lines += [f"| {figure} | {value} | {baseline} |" for figure, value, baseline in rows]
    return "\n".join(lines)


def fold_lab_results(results: Path, heading: str, intro: str, render: Callable[[dict], str]) -> int:
    """The lab scripts' main: with `--run` run the VM tests first, then put the table rendered from
    the results file into the section, stamped with the file's time (`{stamp}` in `intro`)."""
    repo = DOC.parents[1]
    if "--run" in sys.argv[1:]:
        subprocess.run([sys.executable, "-m", "pytest", "-m", "lab", "tests/lab"], cwd=repo, check=False)
    if not results.exists():
        print(f"no results at {results}: run the lab tests (or this script with --run) first")
        return 1
    body = render(json.loads(results.read_text()))
    print(body)
    stamp = datetime.fromtimestamp(results.stat().st_mtime, UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"{heading}\n\n{intro.format(stamp=stamp)}\n\n{body}\n"
    print(f"updated {replace_section(heading, section)}")
    return 0
