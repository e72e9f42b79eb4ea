"""`trader logs query`: DuckDB over the archive, a local folder or s3://bucket/prefix.

Two views: `logs` (the archived `logs` rows, Parquet, with the `date` partition column) and
`container_logs` (shipped container output: date, container, stream, ts, line, and `json`, the
line parsed when it is JSON, e.g. the app's request events).

DuckDB's `httpfs` extension is downloaded from DuckDB's own server at first use (no PyPI package
carries it for DuckDB 2.x), so s3:// goes through pyarrow's S3 filesystem: pyarrow lists and
reads the objects, DuckDB scans the Arrow data (as backtests/store.py does). Local folders take
the same path, so both behave alike.
"""

from __future__ import annotations

import gzip
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.ops.logs import LogsError, parquet
from app.ops.logs.settings import LogsSettings

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa
    import pyarrow.fs as pafs

# a failed provider call as docs/review.md defines it: 4xx but 429, 5xx, or no answer at all
_FAILED = (
    "(regexp_full_match(s, '[45][0-9][0-9]') and s <> '429') "
    "or s in ('timeout', 'error', 'network', 'breaker_open')"
)

READY = {
    "errors-by-source": (
        "warnings, errors and criticals per day and source (archived `logs` rows)",
        """
        select date, source,
               count(*) filter (where level in ('error', 'critical')) as errors,
               count(*) filter (where level = 'warning') as warnings,
               min(ts) as first_seen, max(ts) as last_seen
        from logs where level in ('warning', 'error', 'critical')
        group by date, source order by date, errors desc, warnings desc, source
        """,
    ),
    "slowest-routes": (
        "API routes by 95th percentile latency (the app's request events in shipped container logs)",
        """
        with requests as (
            select json ->> 'route' as route, try_cast(json ->> 'latency_ms' as double) as latency_ms,
                   try_cast(json ->> 'status' as integer) as status
            from container_logs where json ->> 'event' = 'request'
        )
        select route, count(*) as requests,
               round(quantile_cont(latency_ms, 0.5), 1) as p50_ms,
               round(quantile_cont(latency_ms, 0.95), 1) as p95_ms,
               max(latency_ms) as max_ms, count(*) filter (where status >= 500) as errors_5xx
        from requests where route is not null
        group by route order by p95_ms desc, route limit 20
        """,
    ),
    "provider-failures": (
        "failed provider calls per day, provider and status (archived `logs` rows)",
        f"""
        with calls as (
            select date, payload ->> 'provider' as provider, payload ->> 'status' as s from logs
            where payload ->> 'provider' is not null and payload ->> 'status' is not null
        )
        select date, provider, s as status, count(*) as failures from calls
        where {_FAILED}
        group by date, provider, s order by date, failures desc, provider, status
        """,
    ),
}

CONTAINER_COLUMNS = ("ts", "container", "stream", "line")


def container_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("container", pa.string()),
            ("stream", pa.string()),
            ("line", pa.string()),
        ]
    )


class Archive:
    """Where the archive is: `path/to/folder` or `s3://bucket/prefix`."""

    def __init__(self, url: str, settings: LogsSettings) -> None:
        import pyarrow.fs as pafs

        self.url = url.rstrip("/")
        if self.url.startswith("s3://"):
            settings.require("s3_access_key_id", "s3_secret_access_key")
            assert settings.s3_access_key_id and settings.s3_secret_access_key
            kwargs: dict[str, object] = {"region": settings.s3_region}
            if settings.s3_endpoint:
                parts = urlsplit(settings.s3_endpoint)
                kwargs.update(endpoint_override=parts.netloc, scheme=parts.scheme)
            self.fs: pafs.FileSystem = pafs.S3FileSystem(
                access_key=settings.s3_access_key_id.get_secret_value(),
                secret_key=settings.s3_secret_access_key.get_secret_value(),
                force_virtual_addressing=settings.s3_addressing_style == "virtual",
                **kwargs,
            )
            self.base = self.url.removeprefix("s3://")
        elif "://" in self.url:
            raise LogsError(f"--archive {url!r}: use a local folder or s3://bucket/prefix")
        else:
            self.fs = pafs.LocalFileSystem()
            self.base = self.url

    def files(self, folder: str, suffix: str) -> list[str]:
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(f"{self.base}/{folder}", recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            raise LogsError(
                f"cannot list {self.url}/{folder}: {exc} (check LOGS_S3_ENDPOINT and the key pair)"
            ) from None
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(suffix))

    def _day(self, path: str) -> str:
        found = re.search(r"/date=(\d{4}-\d{2}-\d{2})/", path)
        if not found:
            raise LogsError(f"{path}: not under a date=YYYY-MM-DD folder")
        return found.group(1)

    def _with_date(self, table: pa.Table, path: str) -> pa.Table:
        import datetime as dt

        import pyarrow as pa

        day = dt.date.fromisoformat(self._day(path))
        return table.append_column("date", pa.array([day] * table.num_rows, pa.date32()))

    def logs_table(self) -> pa.Table:
        import pyarrow as pa

        tables = []
        for path in self.files("logs", ".parquet"):
            with self.fs.open_input_file(path) as f:
                tables.append(self._with_date(parquet.from_bytes(f.read()), path))
        empty = parquet.schema().append(pa.field("date", pa.date32()))
        return pa.concat_tables(tables) if tables else empty.empty_table()

    def container_table(self) -> pa.Table:
        import pyarrow as pa
        import pyarrow.json as pajson

        tables = []
        options = pajson.ParseOptions(explicit_schema=container_schema(), unexpected_field_behavior="ignore")
        for path in self.files("containers", ".ndjson.gz"):
            with self.fs.open_input_file(path) as f:
                body = gzip.decompress(f.read())
            table = pajson.read_json(pa.BufferReader(body), parse_options=options) if body else None
            tables.append(self._with_date(table or container_schema().empty_table(), path))
        empty = container_schema().append(pa.field("date", pa.date32()))
        return pa.concat_tables(tables) if tables else empty.empty_table()


def connect(archive: Archive) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the `logs` and `container_logs` views over `archive`."""
    import duckdb

    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    conn.register("logs_arrow", archive.logs_table())
    conn.register("container_arrow", archive.container_table())
    conn.execute(
        "create view logs as select date, id, ts, level, source, message, payload::json as payload "
        "from logs_arrow"
    )
    conn.execute(
        "create view container_logs as select date, container, stream, ts, line, "
        "case when json_valid(line) then line::json end as json from container_arrow"
    )
    return conn


def run(archive: Archive, sql: str) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of `sql` over the archive; SQL errors name the query's problem."""
    import duckdb

    conn = connect(archive)
    try:
        cursor = conn.execute(sql)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    except duckdb.Error as exc:
        raise LogsError(f"query failed: {exc} (views: logs, container_logs; see docs/logs.md)") from None
    finally:
        conn.close()
