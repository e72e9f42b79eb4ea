#!/usr/bin/env python3
"""The weekly review as a script: the same code as `trader review weekly`, same options.

.venv/bin/python scripts/weekly_review.py --week 2026-W47 --dry-run
"""

import sys

from app.ops.review.cli import review_cli

if __name__ == "__main__":
    review_cli(["weekly", *sys.argv[1:]], prog_name="weekly_review.py")
