"""One backup at a time per database: a session-level advisory lock on the backed-up server.

Why not a lock file: the timer on the droplet and an operator running `trader backup run` from a
laptop are on different hosts but back up the same database to the same bucket; the database is
the one place both see. The lock goes away with the session, so a killed run never leaves it held.
"""

import asyncio
import time

import asyncpg

BACKUP_LOCK_ID = 7_305_007  # arbitrary, constant: the advisory lock key for backup runs
POLL_SECONDS = 0.5


async def acquire(conn: asyncpg.Connection, wait_seconds: float) -> bool:
    """Take the lock, waiting up to `wait_seconds`; False when another run still holds it."""
    deadline = time.monotonic() + wait_seconds
    while True:
        if await conn.fetchval("select pg_try_advisory_lock($1)", BACKUP_LOCK_ID):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_SECONDS)
