"""The asyncpg connection pool: JSON codecs, start-up with migrations, and the pool gauges.

The pool outlives database restarts: asyncpg drops a connection the server closed and opens a new
one on the next acquire, so requests fail fast (503, see app/api/errors.py) while the database is
down and succeed again once it is back, without restarting the service.
"""

import asyncio
import json
import time

import asyncpg
import structlog

from app.core.config import Settings
from app.db import idempotency, timescale
from app.db.migrate import migrate
from app.metrics import Metrics

log = structlog.get_logger(__name__)

# Errors that mean "the database is not reachable right now" rather than "the request is wrong".
DB_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now (57P*)
    # a connection whose operation was cut short (server gone, or a timeout) can fail its reset
    # with this; the pool then drops it and the next attempt gets a fresh one
    asyncpg.InternalClientError,
)


def _jsonb_encode(value: object) -> bytes:
    return b"\x01" + json.dumps(value).encode()  # binary jsonb: version byte 1, then the JSON text


def _jsonb_decode(data: bytes) -> object:
    return json.loads(data[1:])


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSON columns travel as Python dicts/lists. Binary format, because COPY (batch ingest) only
    # takes binary codecs.
    await conn.set_type_codec(
        "jsonb", encoder=_jsonb_encode, decoder=_jsonb_decode, schema="pg_catalog", format="binary"
    )
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: Settings) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        settings.database_url,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        timeout=settings.db_connect_timeout_seconds,
        command_timeout=settings.db_command_timeout_seconds,
        init=_init_connection,
    )


async def open_database(settings: Settings) -> tuple[asyncpg.Pool, bool]:
    """Migrate (waiting up to DB_STARTUP_TIMEOUT_SECONDS for the server), then open the pool.

    Returns the pool and whether TimescaleDB features are active."""
    deadline = time.monotonic() + settings.db_startup_timeout_seconds
    while True:
        try:
            conn = await asyncpg.connect(settings.database_url, timeout=settings.db_connect_timeout_seconds)
            break
        except DB_UNAVAILABLE as exc:
            if time.monotonic() >= deadline:
                raise RuntimeError(
                    f"database at DATABASE_URL not reachable after {settings.db_startup_timeout_seconds:g}s "
                    f"(DB_STARTUP_TIMEOUT_SECONDS): {exc}"
                ) from exc
            log.warning("database_not_ready", error=str(exc))
            await asyncio.sleep(1)
    try:
        applied = await migrate(conn)
        if applied:
            log.info("migrations_applied", versions=[m.version for m in applied])
        timescale_active = await timescale.apply(conn, settings)
    finally:
        await conn.close()
    return await create_pool(settings), timescale_active


def bind_pool_metrics(pool: asyncpg.Pool, metrics: Metrics) -> None:
    """Pool gauges read the pool when Prometheus scrapes, so they are never stale."""
    metrics.db_pool_max.set(pool.get_max_size())
    metrics.db_pool_connections.labels("idle").set_function(pool.get_idle_size)
    metrics.db_pool_connections.labels("in_use").set_function(lambda: pool.get_size() - pool.get_idle_size())


async def probe(
    pool: asyncpg.Pool, metrics: Metrics, limit_s: float
) -> tuple[bool, float | None, str | None]:
    """One round trip to the database; updates trader_db_up. Returns (up, latency_ms, error)."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(limit_s):
            await pool.fetchval("select 1")
    except DB_UNAVAILABLE as exc:
        metrics.db_up.set(0)
        return False, None, type(exc).__name__
    metrics.db_up.set(1)
    return True, round((time.perf_counter() - started) * 1000, 2), None


PRUNE_EVERY_SECONDS = 3600.0


async def housekeeping(pool: asyncpg.Pool, metrics: Metrics, settings: Settings) -> None:
    """Keeps trader_db_up current even when nobody calls the health endpoint, and forgets
    Idempotency-Keys older than IDEMPOTENCY_KEY_DAYS once an hour."""
    interval = settings.db_probe_interval_seconds
    last_prune = -PRUNE_EVERY_SECONDS
    while True:
        up, _, _ = await probe(pool, metrics, limit_s=interval)
        if up and time.monotonic() - last_prune >= PRUNE_EVERY_SECONDS:
            try:
                async with pool.acquire() as conn:
                    pruned = await idempotency.prune(conn, settings.idempotency_key_days)
                last_prune = time.monotonic()
                log.info(
                    "idempotency_keys_pruned", rows=pruned, older_than_days=settings.idempotency_key_days
                )
            except DB_UNAVAILABLE as exc:
                log.warning("idempotency_prune_failed", error=type(exc).__name__)
        await asyncio.sleep(interval)
