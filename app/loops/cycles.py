"""Cycle bookkeeping in Postgres (tables in migration 0003): a cycle is its scheduled time, and
every (symbol, horizon) it stored is recorded in the same transaction as the `features` rows. An
advisory lock per loop keeps two processes (or a restarted one and a leftover) from running
cycles at the same time."""

import contextlib
import hashlib
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg


def lock_key(name: str) -> int:
    """A stable 63-bit advisory lock key per loop name."""
    return int.from_bytes(hashlib.sha256(f"trader-loop:{name}".encode()).digest()[:8], "big") >> 1


@contextlib.asynccontextmanager
async def exclusive(pool: asyncpg.Pool, name: str) -> AsyncIterator[bool]:
    """Yield True while this process holds the loop's lock, False when another holds it. The lock
    lives on a connection of its own: a crashed process's lock goes with its connection."""
    async with pool.acquire() as conn:
        key = lock_key(name)
        got = await conn.fetchval("select pg_try_advisory_lock($1)", key)
        try:
            yield got
        finally:
            if got:
                await conn.execute("select pg_advisory_unlock($1)", key)


async def claim(pool: asyncpg.Pool, loop: str, scheduled_at: datetime) -> set[tuple[str, str]] | None:
    """Start or resume a cycle: the (symbol, horizon) units already stored, or None when the cycle
    is finished (done, failed or abandoned) and must not run again."""
    async with pool.acquire() as conn, conn.transaction():
        status = await conn.fetchval(
            "insert into loop_cycles (loop, scheduled_at, status) values ($1, $2, 'running')"
            " on conflict (loop, scheduled_at) do update set attempts = loop_cycles.attempts + 1"
            " returning status",
            loop,
            scheduled_at,
        )
        if status != "running":
            return None
        rows = await conn.fetch(
            "select symbol, horizon from loop_cycle_units where loop = $1 and scheduled_at = $2",
            loop,
            scheduled_at,
        )
    return {(r["symbol"], r["horizon"]) for r in rows}


async def abandon_stale(pool: asyncpg.Pool, loop: str, before: datetime) -> list[datetime]:
    """Close the `running` cycles scheduled before `before` as `abandoned` (finished_at = when);
    returns their times. The caller holds the loop's lock, so none of them is being run."""
    rows = await pool.fetch(
        "update loop_cycles c set status = 'abandoned', finished_at = now(), units_done ="
        " (select count(*) from loop_cycle_units u where u.loop = $1 and u.scheduled_at = c.scheduled_at)"
        " where loop = $1 and status = 'running' and scheduled_at < $2 returning scheduled_at",
        loop,
        before,
    )
    return sorted(r["scheduled_at"] for r in rows)


async def mark_unit(
    conn: asyncpg.Connection, loop: str, scheduled_at: datetime, symbol: str, horizon: str
) -> None:
    await conn.execute(
        "insert into loop_cycle_units (loop, scheduled_at, symbol, horizon) values ($1, $2, $3, $4)",
        loop,
        scheduled_at,
        symbol,
        horizon,
    )


async def finish(pool: asyncpg.Pool, loop: str, scheduled_at: datetime, status: str, failed: int) -> None:
    """Close a cycle; `units_done` counts every unit stored, before a restart included."""
    await pool.execute(
        "update loop_cycles set status = $3, finished_at = now(), units_failed = $4, units_done ="
        " (select count(*) from loop_cycle_units u where u.loop = $1 and u.scheduled_at = $2)"
        " where loop = $1 and scheduled_at = $2",
        loop,
        scheduled_at,
        status,
        failed,
    )
