"""`logs` rows <-> Parquet bytes. One fixed schema, so every object of the archive reads the same
way (DuckDB, pyarrow, pandas); `payload` stays JSON text, exactly as Postgres renders the jsonb."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

COLUMNS = ("id", "ts", "level", "source", "message", "payload")


def schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),
            pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False),
            pa.field("level", pa.string(), nullable=False),
            pa.field("source", pa.string(), nullable=False),
            pa.field("message", pa.string(), nullable=False),
            pa.field("payload", pa.string(), nullable=False),
        ]
    )


def to_table(rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pylist([{c: row[c] for c in COLUMNS} for row in rows], schema=schema())


def to_bytes(table: pa.Table) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table.sort_by("id"), sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def from_bytes(body: bytes) -> pa.Table:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(body), schema=schema())


def merge(existing: pa.Table | None, new: pa.Table) -> pa.Table:
    """The union by id, the new rows winning: re-archiving rows an earlier run already uploaded
    (it died before deleting them) replaces them instead of adding copies."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if existing is None:
        return new.sort_by("id")
    kept = existing.filter(pc.invert(pc.is_in(existing["id"], value_set=new["id"])))
    return pa.concat_tables([kept, new]).sort_by("id")
