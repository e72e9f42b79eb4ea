"""Each benchmark owns one `## Heading` section of docs/benchmarks.md and replaces only that."""

import re
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
