"""The `trades` table: executed fills (see app/db/migrations/0001_core.sql)."""

from app.db.rows import Table

TRADES = Table(
    name="trades",
    columns=("ts", "symbol", "side", "type", "qty", "avg_price", "pnl", "tags"),
    filters=("symbol",),
)
