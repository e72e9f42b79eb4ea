"""Files: where the data sets are (a local folder or an s3:// bucket prefix), how DuckDB reads
them, how new partitions are written, and where reports go.

DuckDB's own `httpfs` extension is downloaded from DuckDB's extension server at first use and no
PyPI package carries it for DuckDB 2.x, so s3:// goes through pyarrow's S3 filesystem instead:
pyarrow lists and reads the objects, DuckDB scans the resulting Arrow dataset (with projection and
filter push-down). Local folders are read by DuckDB's own Parquet reader.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from backtests.errors import BacktestInputError
from backtests.layout import Dataset

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb
    import pyarrow as pa
    import pyarrow.fs as pafs

_ARROW_TYPES = {"VARCHAR": "string", "DATE": "date32", "INTEGER": "int32"}
# Footer key of a file `DataRoot.write` checked: no two of its rows share the data set's key
UNIQUE_KEY = b"solo_trader.unique_key"


@dataclass(frozen=True)
class S3Options:
    """Bucket credentials; defaults come from the standard AWS_* variables (Spaces speaks S3)."""

    endpoint: str | None = None  # e.g. https://nyc3.digitaloceanspaces.com or http://127.0.0.1:8333
    access_key: str | None = None
    secret_key: str | None = None
    region: str = "us-east-1"

    @classmethod
    def from_env(cls) -> S3Options:
        return cls(
            endpoint=os.environ.get("AWS_ENDPOINT_URL"),
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region=os.environ.get("AWS_REGION", "us-east-1"),
        )

    def filesystem(self) -> pafs.S3FileSystem:
        import pyarrow.fs as pafs

        if not (self.access_key and self.secret_key):
            raise BacktestInputError(
                "s3:// needs credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                "(the bucket's access key pair)",
                source="s3",
            )
        kwargs: dict[str, object] = {"region": self.region}
        if self.endpoint:
            url = urlparse(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
            kwargs.update(endpoint_override=url.netloc, scheme=url.scheme)
        return pafs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key, **kwargs)


class DataRoot:
    """A data root: `path/to/folder` or `s3://bucket/prefix`."""

    def __init__(self, url: str, s3: S3Options | None = None) -> None:
        import pyarrow.fs as pafs

        self.url = url.rstrip("/")
        if self.url.startswith("s3://"):
            self.fs: pafs.FileSystem = (s3 or S3Options.from_env()).filesystem()
            self.base = self.url.removeprefix("s3://")
        elif "://" in self.url:
            raise BacktestInputError(
                "data root must be a local folder or an s3://bucket/prefix URL", source=url
            )
        else:
            self.fs = pafs.LocalFileSystem()
            self.base = str(Path(self.url).resolve())

    @property
    def is_s3(self) -> bool:
        return self.url.startswith("s3://")

    def where(self, ds: Dataset) -> str:
        return f"{self.url}/{ds.path}"

    def files(self, ds: Dataset) -> list[str]:
        """Every Parquet file of the data set (paths as the filesystem knows them)."""
        import pyarrow.fs as pafs

        selector = pafs.FileSelector(f"{self.base}/{ds.path}", recursive=True, allow_not_found=True)
        try:
            infos = self.fs.get_file_info(selector)
        except OSError as exc:
            hint = (
                "; check AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" if self.is_s3 else ""
            )
            raise BacktestInputError(f"cannot list {ds.path}: {exc}{hint}", source=self.url) from exc
        return sorted(i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet"))

    def partitioning(self, ds: Dataset) -> object:
        import pyarrow as pa
        import pyarrow.dataset as pads

        schema = pa.schema([(k, getattr(pa, _ARROW_TYPES[t])()) for k, t in ds.partitions])
        return pads.partitioning(schema, flavor="hive")

    def register(self, conn: duckdb.DuckDBPyConnection, ds: Dataset) -> bool:
        """Create the view `ds.name` over the data set; False when it has no files."""
        files = self.files(ds)
        if not files:
            return False
        if self.is_s3:
            import pyarrow.dataset as pads

            arrow = pads.dataset(
                files,
                filesystem=self.fs,
                format="parquet",
                partitioning=self.partitioning(ds),
                partition_base_dir=f"{self.base}/{ds.path}",
            )
            conn.register(f"{ds.name}_arrow", arrow)
            conn.execute(f"create or replace view {ds.name} as select * from {ds.name}_arrow")
        else:
            types = ", ".join(f"'{k}': {t}" for k, t in ds.partitions)
            # the files listed above, not a glob: a glob is expanded again (thousands of folders
            # listed) every time a query reads the view, and scoring reads each view several times
            with self.readable(ds):
                conn.execute(
                    f"create or replace view {ds.name} as select * from read_parquet({_sql_list(files)}, "
                    f"hive_partitioning = true, hive_types = {{{types}}})"
                )
        self.check_columns(conn, ds)
        return True

    def key_proven_unique(self, conn: duckdb.DuckDBPyConnection, ds: Dataset) -> bool:
        """Whether the files' footers prove that no two rows share the data set's key, so that
        scoring can skip counting distinct keys over every row. Proven when every file carries the
        stamp `write` gives files without repeats, and the files of one symbol cover disjoint `ts`
        ranges (their statistics): then a key repeats neither inside a file nor across two. Footers
        only, no rows read. Not attempted on s3:// (DuckDB reads no footers there without httpfs).
        A tool that rewrites a file keeping its footer metadata but adding repeats defeats this:
        rewrite such files with `trader data export` (or drop the stamp)."""
        files = self.files(ds)
        if "ts" not in ds.key or self.is_s3 or not files:
            return False
        listed = _sql_list(files)
        (stamped,) = conn.execute(
            f"select count(distinct file_name) from parquet_kv_metadata({listed}) "
            "where key = ? and value = ?",
            [UNIQUE_KEY, _key(ds)],
        ).fetchone()
        if stamped != len(files):
            return False
        spans = conn.execute(
            "select file_name, min(stats_min::timestamptz), max(stats_max::timestamptz), "
            f"count(*) = count(stats_min) and count(*) = count(stats_max) from parquet_metadata({listed}) "
            "where path_in_schema = 'ts' group by file_name"
        ).fetchall()
        if len(spans) != len(files) or not all(known for *_, known in spans):
            return False
        # the symbol folder: the file sits in one folder per partition key below it
        depth = len(ds.partitions) - 1
        last: dict[Path, datetime] = {}
        for name, lo, hi, _ in sorted(spans, key=lambda s: s[1]):
            folder = Path(name).parents[depth]
            if folder in last and lo <= last[folder]:
                return False
            last[folder] = hi
        return True

    def check_columns(self, conn: duckdb.DuckDBPyConnection, ds: Dataset) -> None:
        with self.readable(ds):
            have = {row[0] for row in conn.execute(f"describe {ds.name}").fetchall()}
        missing = [c for c in ds.required if c not in have]
        if missing:
            raise BacktestInputError(
                f"the {ds.name} data set lacks columns scoring needs", source=self.where(ds), missing=missing
            )

    @contextmanager
    def readable(self, *datasets: Dataset) -> Iterator[None]:
        """Turn a reader failure into an error that names the corrupt file(s)."""
        import duckdb
        import pyarrow as pa

        try:
            yield
        except (duckdb.IOException, duckdb.InvalidInputException, pa.ArrowInvalid, OSError) as exc:
            bad = self.corrupt_files(datasets) or re.findall(r"[\"']([^\"']+\.parquet)[\"']", str(exc))
            if not bad:
                raise
            raise BacktestInputError(
                f"corrupt or unreadable Parquet file(s): {', '.join(bad)} ({str(exc).splitlines()[0]}); "
                "delete or re-create them (trader data bars/export/synth)",
                source=self.url,
            ) from exc

    def corrupt_files(self, datasets: tuple[Dataset, ...]) -> list[str]:
        """Files whose Parquet footer cannot be read (only called after a failure)."""
        import pyarrow.parquet as pq

        bad = []
        for ds in datasets:
            for path in self.files(ds):
                try:
                    pq.read_metadata(path, filesystem=self.fs)
                except (OSError, ValueError):
                    bad.append(path if not self.is_s3 else f"s3://{path}")
        return bad

    def write(self, ds: Dataset, data: pa.Table, *, basename: str = "part-{i}.parquet") -> None:
        """Write `data` (with the partition columns) into its partitions, replacing those partitions.
        When no two rows share the data set's key, the files say so in their footers."""
        import pyarrow.dataset as pads

        if ds.key and data.group_by(list(ds.key)).aggregate([]).num_rows == data.num_rows:
            data = data.replace_schema_metadata({**(data.schema.metadata or {}), UNIQUE_KEY: _key(ds)})
        pads.write_dataset(
            data,
            f"{self.base}/{ds.path}",
            filesystem=self.fs,
            format="parquet",
            partitioning=self.partitioning(ds),
            existing_data_behavior="delete_matching",
            basename_template=basename,
            max_rows_per_group=1 << 20,
        )


def _key(ds: Dataset) -> bytes:
    return ",".join(ds.key).encode()


def sql_string(value: str) -> str:
    """`value` as a SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def _sql_list(values: list[str]) -> str:
    """A SQL list literal of strings, e.g. the files a view or a metadata query reads."""
    return f"[{', '.join(map(sql_string, values))}]"


def connect(memory_limit: str = "2GB", threads: int | None = None, temp_dir: Path | None = None):
    """A DuckDB connection whose memory use is bounded: big joins spill to `temp_dir` instead."""
    import duckdb

    config = {"memory_limit": memory_limit, "preserve_insertion_order": False}
    if threads:
        config["threads"] = threads
    if temp_dir:
        config["temp_directory"] = str(temp_dir)
    try:
        conn = duckdb.connect(config=config)
    except duckdb.Error as exc:
        raise BacktestInputError(
            f"{exc} (memory limit is like 512MB or 2GB; threads a positive integer)", source="memory_limit"
        ) from exc
    # footers are read once per connection, not once per query (scoring scans snapshots 3 times)
    conn.execute("set parquet_metadata_cache = true")
    return conn
