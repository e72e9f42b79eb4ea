"""What a backup recorded about the database, and the check that a restore reproduced it.

Row counts and checksums are taken inside the transaction whose snapshot pg_dump uses, so they
describe exactly the rows in the dump. A table's checksum is the sum of a 64-bit prefix of each
row's md5: it streams (no 1 GB `string_agg`), does not depend on row order (a restore may lay rows
out differently) and still changes when any value, or the number of copies of a row, changes.
Rows are rendered as text under fixed TimeZone/DateStyle/extra_float_digits so that the same data
gives the same text on the backed-up and the restored side.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import asyncpg

FORMAT_VERSION = 1
# session settings that fix how rows render as text (see module docstring)
CHECKSUM_SESSION = {
    "TimeZone": "UTC",
    "DateStyle": "ISO, YMD",
    "extra_float_digits": "3",
    "IntervalStyle": "iso_8601",
}
# TimescaleDB keeps chunks and its catalog in these schemas; hypertables are summed through their parent
SKIPPED_SCHEMAS = (
    "pg_catalog",
    "information_schema",
    "_timescaledb_catalog",
    "_timescaledb_internal",
    "_timescaledb_config",
    "_timescaledb_cache",
    "_timescaledb_functions",
    "timescaledb_information",
    "timescaledb_experimental",
)

TABLES_SQL = """
select n.nspname || '.' || c.relname as name, format('%I.%I', n.nspname, c.relname) as quoted
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind = 'r' and not c.relispartition and n.nspname <> all($1::text[])
  and n.nspname not like 'pg\\_%'
order by 1
"""


@dataclass(frozen=True)
class TableSum:
    rows: int
    checksum: str


@dataclass
class Manifest:
    stamp: str
    database: str
    created_at: str
    server_version_num: int
    pg_dump_major: int
    extensions: dict[str, str]
    tables: dict[str, TableSum]
    dump_bytes: int = 0
    encrypted_bytes: int = 0
    encrypted_sha256: str = ""
    recipients: list[str] = field(default_factory=list)
    duration_seconds: float = 0.0
    format_version: int = FORMAT_VERSION

    @property
    def total_rows(self) -> int:
        return sum(t.rows for t in self.tables.values())

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        data["tables"] = {name: TableSum(**value) for name, value in data["tables"].items()}
        return cls(**data)


async def table_sums(conn: asyncpg.Connection) -> dict[str, TableSum]:
    """Row count and checksum of every user table, as seen by `conn`'s current snapshot."""
    for name, value in CHECKSUM_SESSION.items():
        await conn.execute("select set_config($1, $2, true)", name, value)
    sums = {}
    for row in await conn.fetch(TABLES_SQL, list(SKIPPED_SCHEMAS)):
        count, checksum = await conn.fetchrow(
            "select count(*), coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint), 0)::text"
            f" from {row['quoted']} t"
        )
        sums[row["name"]] = TableSum(rows=count, checksum=checksum)
    return sums


def differences(expected: dict[str, TableSum], actual: dict[str, TableSum]) -> list[str]:
    """Human-readable mismatches between what a backup recorded and what a restore holds."""
    problems = []
    for name in sorted(expected.keys() | actual.keys()):
        want, got = expected.get(name), actual.get(name)
        if want is None:
            problems.append(f"{name}: present after restore but not in the backup")
        elif got is None:
            problems.append(f"{name}: missing after restore")
        elif want != got:
            problems.append(
                f"{name}: backup recorded {want.rows} rows / checksum {want.checksum}, "
                f"restore has {got.rows} rows / checksum {got.checksum}"
            )
    return problems
