"""Logs to object storage: `trader logs archive|query|ship` (docs/logs.md).

`archive` moves old `logs` rows from Postgres to the bucket as date-partitioned Parquet, `ship`
copies the stack's container logs there as gzip NDJSON per day, and `query` runs DuckDB over both.
"""


class LogsError(RuntimeError):
    """A logs command cannot go on; the message names the setting or input to fix."""
