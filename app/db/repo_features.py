"""The `features` table: per-symbol feature snapshots (JSONB payload) for a horizon."""

from app.db.rows import Table

FEATURES = Table(
    name="features", columns=("ts", "symbol", "horizon", "payload"), filters=("symbol", "horizon")
)
