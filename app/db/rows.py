"""Generic row operations for the append-only time-series tables (trades, features, logs).

Each `repo_*` module describes its table with a `Table`; the SQL here is built only from those
constant names, never from request input (values always travel as bind parameters).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # writable columns, in COPY order (id and defaults excluded)
    filters: tuple[str, ...]  # columns a list query may filter by equality

    @property
    def select_list(self) -> str:
        return ", ".join(("id", *self.columns))


async def insert_one(conn: asyncpg.Connection, table: Table, row: Mapping[str, Any]) -> asyncpg.Record:
    """Insert one row; columns the caller left out (None) take their SQL default."""
    names = [c for c in table.columns if row.get(c) is not None]
    params = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    sql = (
        f"insert into {table.name} ({', '.join(names)}) values ({params}) returning {table.select_list}"
        if names
        else f"insert into {table.name} default values returning {table.select_list}"
    )
    return await conn.fetchrow(sql, *(row[c] for c in names))


async def copy_rows(conn: asyncpg.Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Store a batch with one binary COPY. Ids are drawn from the identity sequence first (COPY
    writes given identity values as they are), so the caller learns them in request order."""
    ids = [
        r[0]
        for r in await conn.fetch(
            "select nextval(pg_get_serial_sequence($1, 'id')) from generate_series(1, $2)",
            table.name,
            len(rows),
        )
    ]
    # COPY applies no defaults to the columns it is given; the only one a client may omit is ts.
    now = await conn.fetchval("select now()") if any(row.get("ts") is None for row in rows) else None
    records = [
        (ident, *(now if c == "ts" and row.get(c) is None else row.get(c) for c in table.columns))
        for ident, row in zip(ids, rows, strict=True)
    ]
    await conn.copy_records_to_table(table.name, records=records, columns=["id", *table.columns])
    return ids


async def fetch_page(
    conn: asyncpg.Connection | asyncpg.Pool,
    table: Table,
    *,
    equals: Mapping[str, Any],
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[asyncpg.Record]:
    """Newest first by (ts, id); `after` is the last (ts, id) of the previous page. Fetches one row
    more than `limit` so the caller knows whether another page exists."""
    clauses: list[str] = []
    args: list[Any] = []

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    for column, value in equals.items():
        if value is not None:
            clauses.append(f"{column} = {bind(value)}")
    if since is not None:
        clauses.append(f"ts >= {bind(since)}")
    if until is not None:
        clauses.append(f"ts < {bind(until)}")
    if after is not None:
        clauses.append(f"(ts, id) < ({bind(after[0])}, {bind(after[1])})")
    where = " and ".join(clauses) or "true"
    sql = (
        f"select {table.select_list} from {table.name} where {where}"
        f" order by ts desc, id desc limit {bind(limit + 1)}"
    )
    return await conn.fetch(sql, *args)
