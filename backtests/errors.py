"""The one exception type for bad backtest input: it names the data set and what to fix."""

from collections.abc import Iterable


class BacktestInputError(ValueError):
    """Input the backtest cannot use. `source` is the file, folder or data set at fault and
    `missing` the columns or payload keys it lacks (empty when the problem is something else)."""

    def __init__(self, message: str, *, source: str | None = None, missing: Iterable[str] = ()) -> None:
        self.source = source
        self.missing = tuple(missing)
        parts = [f"{source}: " if source else "", message]
        if self.missing:
            parts.append(f" (missing: {', '.join(self.missing)})")
        super().__init__("".join(parts))
