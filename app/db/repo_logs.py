"""The `logs` table: application and strategy log records."""

from app.db.rows import Table

LOGS = Table(
    name="logs", columns=("ts", "level", "source", "message", "payload"), filters=("source", "level")
)
