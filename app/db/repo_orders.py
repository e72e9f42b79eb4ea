"""The `orders` table (migration 0002): one row per client order id, see app/trading/orders.py."""

from decimal import Decimal
from typing import Any

import asyncpg

COLUMNS = (
    "client_order_id, created_at, updated_at, symbol, side, type, duration, qty, price, stop, "
    "request_hash, status, broker_order_id, sends, last_error"
)


async def get(conn: asyncpg.Connection, client_order_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"select {COLUMNS} from orders where client_order_id = $1", client_order_id)


async def insert_pending(
    conn: asyncpg.Connection,
    client_order_id: str,
    order: dict[str, Any],
    request_hash: str,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "insert into orders"
        " (client_order_id, symbol, side, type, duration, qty, price, stop, request_hash, status)"
        f" values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending') returning {COLUMNS}",
        client_order_id,
        order["symbol"],
        order["side"],
        order["type"],
        order["duration"],
        Decimal(order["qty"]),
        order.get("price"),
        order.get("stop"),
        request_hash,
    )


async def mark_sending(conn: asyncpg.Connection, client_order_id: str) -> None:
    """Recorded before the POST: from here on a crash leaves `unknown`, which forces a lookup."""
    await conn.execute(
        "update orders set status = 'unknown', sends = sends + 1, updated_at = now()"
        " where client_order_id = $1",
        client_order_id,
    )


async def settle(
    conn: asyncpg.Connection,
    client_order_id: str,
    status: str,
    *,
    broker_order_id: int | None = None,
    error: str | None = None,
) -> asyncpg.Record:
    return await conn.fetchrow(
        "update orders set status = $2, broker_order_id = coalesce($3, broker_order_id),"
        " last_error = $4, updated_at = now()"
        f" where client_order_id = $1 returning {COLUMNS}",
        client_order_id,
        status,
        broker_order_id,
        error,
    )
