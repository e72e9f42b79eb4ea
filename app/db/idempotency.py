"""`Idempotency-Key`: a create repeated with the same key stores nothing twice.

The key row is inserted in the same transaction as the data. A concurrent duplicate blocks on the
key's unique index until the first transaction ends: if it committed, the duplicate finds the key
and gets the stored answer; if it rolled back, the duplicate does the work itself. So exactly one
request stores the rows, whatever the timing.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg

HEADER = "Idempotency-Key"


class KeyReused(Exception):
    """The key was first used with a different request body."""


@dataclass(frozen=True)
class Outcome:
    status_code: int
    body: Any
    replayed: bool


def request_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


Work = Callable[[asyncpg.Connection], Awaitable[tuple[int, Any]]]


async def run_once(pool: asyncpg.Pool, route: str, key: str | None, digest: str, work: Work) -> Outcome:
    """Run `work` (in a transaction) unless `key` already ran for `route`; without a key, just run
    it (a single INSERT or COPY is atomic on its own: no transaction round trips)."""
    if key is None:
        async with pool.acquire() as conn:
            status_code, body = await work(conn)
        return Outcome(status_code, body, replayed=False)
    async with pool.acquire() as conn, conn.transaction():
        claimed = await conn.fetchval(
            "insert into idempotency_keys (route, key, request_hash) values ($1, $2, $3)"
            " on conflict do nothing returning true",
            route,
            key,
            digest,
        )
        if claimed:
            status_code, body = await work(conn)
            await conn.execute(
                "update idempotency_keys set status_code = $3, response = $4 where route = $1 and key = $2",
                route,
                key,
                status_code,
                body,
            )
            return Outcome(status_code, body, replayed=False)
        first = await conn.fetchrow(
            "select request_hash, status_code, response from idempotency_keys where route = $1 and key = $2",
            route,
            key,
        )
    if first["request_hash"] != digest:
        raise KeyReused(f"{HEADER} {key!r} was already used for a different request body on {route}")
    return Outcome(first["status_code"], first["response"], replayed=True)


async def prune(conn: asyncpg.Connection, older_than_days: int) -> int:
    """Forget keys older than the retry window (a client retries within minutes, not weeks)."""
    status = await conn.execute(
        "delete from idempotency_keys where created_at < now() - make_interval(days => $1)", older_than_days
    )
    return int(status.split()[-1])
