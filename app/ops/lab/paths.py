"""Where the lab keeps its state: outside the repository, in the user's cache directory."""

import os
from pathlib import Path


def lab_home() -> Path:
    """`$XDG_CACHE_HOME/solo-trader/lab` (default `~/.cache/...`); `TRADER_LAB_HOME` overrides it."""
    if os.environ.get("TRADER_LAB_HOME"):
        return Path(os.environ["TRADER_LAB_HOME"])
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "solo-trader" / "lab"
