"""Placing an order exactly once, although Tradier has no idempotency key.

1. The order is stored as `pending` under its client order id before anything is sent, and a
   Postgres advisory lock on that id serialises every attempt for it (across requests and
   processes), so concurrent submissions of one id are handled one after another.
2. The id travels as the Tradier order `tag`. The row turns `unknown` just before the POST.
3. A POST that timed out, failed with 5xx or lost its connection is never blindly repeated: the
   account's orders are listed and the order is resent only if no order carries the tag.
4. A submission that finds the id `placed` (or `rejected`) answers from the row: a duplicate.
   One that finds it `unknown` (an earlier attempt crashed or could not settle) looks the tag up
   first, exactly as in 3.
"""

import asyncio
import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta

import asyncpg

from app.db import repo_orders
from app.metrics import Metrics
from app.providers.errors import ProviderError
from app.providers.tradier import OrderTicket, TradierClient, TradierRejected

LOCK_NAMESPACE = 7_305_002  # seed for the advisory-lock key derived from the client order id
LOCK_WAIT_SECONDS = 20.0  # longer than one send plus one lookup under the default HTTP policy
LOCK_POLL_SECONDS = 0.05
# Tradier's order list may drop old orders: an unsettled order older than this is not resent
# automatically (a tag missing from the list no longer proves the order absent).
RESEND_WINDOW = timedelta(hours=6)
MAX_SENDS = 2  # the first send plus at most one resend after a lookup proved the first absent


class OrderConflict(Exception):
    """The client order id was already used for a different order."""


class OrderNotSettled(Exception):
    """The order's fate could not be established now; resubmitting the same client order id
    later settles it without risking a duplicate."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class OrderOutcome:
    client_order_id: str
    status: str  # placed | rejected
    broker_order_id: int | None
    duplicate: bool
    sends: int
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def request_hash(ticket: OrderTicket) -> str:
    canonical = {k: (None if v is None else str(v)) for k, v in asdict(ticket).items()}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def _outcome(row: asyncpg.Record, duplicate: bool) -> OrderOutcome:
    messages = [row["last_error"]] if row["status"] == "rejected" and row["last_error"] else []
    return OrderOutcome(
        row["client_order_id"], row["status"], row["broker_order_id"], duplicate, row["sends"], messages
    )


class OrderDesk:
    def __init__(self, pool: asyncpg.Pool, tradier: TradierClient, metrics: Metrics) -> None:
        self.pool = pool
        self.tradier = tradier
        self.metrics = metrics

    async def place(self, ticket: OrderTicket, client_order_id: str) -> OrderOutcome:
        """Guardrails are the caller's job (app/trading/guardrails.py); this is the protocol."""
        async with self.pool.acquire() as conn:
            await self._lock(conn, client_order_id)
            try:
                return await self._place_locked(conn, ticket, client_order_id)
            finally:
                # if the connection broke, the server already dropped the lock with the session
                if not conn.is_closed():
                    await conn.execute(
                        "select pg_advisory_unlock(hashtextextended($1, $2))", client_order_id, LOCK_NAMESPACE
                    )

    @staticmethod
    async def _lock(conn: asyncpg.Connection, coid: str) -> None:
        """Take the id's advisory lock, polling, so that a long-running holder (a slow broker)
        makes this submission answer "in progress" instead of tripping the statement timeout."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while not await conn.fetchval(
            "select pg_try_advisory_lock(hashtextextended($1, $2))", coid, LOCK_NAMESPACE
        ):
            if time.monotonic() > deadline:
                raise OrderNotSettled(
                    f"another submission of client_order_id {coid} is still in progress; resubmit it shortly",
                    retry_after=1.0,
                )
            await asyncio.sleep(LOCK_POLL_SECONDS)

    async def _place_locked(self, conn: asyncpg.Connection, ticket: OrderTicket, coid: str) -> OrderOutcome:
        digest = request_hash(ticket)
        row = await repo_orders.get(conn, coid)
        if row is None:
            row = await repo_orders.insert_pending(conn, coid, _columns(ticket), digest)
        elif row["request_hash"] != digest:
            raise OrderConflict(
                f"client_order_id {coid} was already used for a different order: use a new client_order_id"
            )
        elif row["status"] in ("placed", "rejected"):
            self.metrics.orders.labels("duplicate").inc()
            return _outcome(row, duplicate=True)
        elif row["status"] == "unknown":
            found = await self._lookup(coid)
            if found is not None:
                self.metrics.orders.labels("duplicate").inc()
                return _outcome(await repo_orders.settle(conn, coid, "placed", broker_order_id=found), True)
            if datetime.now(UTC) - row["updated_at"] > RESEND_WINDOW:
                self.metrics.orders.labels("failed").inc()
                raise OrderNotSettled(
                    f"order {coid} was last sent over {RESEND_WINDOW} ago with no answer and is not in "
                    "the account's current order list, which may no longer show it: check it in Tradier; "
                    "if it was not placed, submit it again with a new client_order_id"
                )
        return await self._send(conn, ticket, coid)

    async def _lookup(self, coid: str) -> int | None:
        try:
            order = await self.tradier.find_by_tag(coid)
        except (ProviderError, TradierRejected) as exc:
            self.metrics.orders.labels("failed").inc()
            raise OrderNotSettled(
                f"order {coid} may have reached Tradier and its order list is unavailable ({exc}); "
                "resubmit the same client_order_id later to settle it",
                retry_after=getattr(exc, "retry_after", None),
            ) from exc
        return int(order["id"]) if order is not None else None

    async def _send(self, conn: asyncpg.Connection, ticket: OrderTicket, coid: str) -> OrderOutcome:
        for _ in range(MAX_SENDS):
            await repo_orders.mark_sending(conn, coid)
            try:
                order = await self.tradier.place(ticket, coid)
            except TradierRejected as exc:
                self.metrics.orders.labels("failed").inc()
                row = await repo_orders.settle(conn, coid, "rejected", error="; ".join(exc.messages))
                return _outcome(row, duplicate=False)
            except ProviderError as exc:
                if not exc.maybe_delivered:
                    # never reached Tradier: back to pending, a resubmission simply sends it
                    await repo_orders.settle(conn, coid, "pending", error=str(exc))
                    self.metrics.orders.labels("failed").inc()
                    raise OrderNotSettled(
                        f"order {coid} was not sent: {exc}", retry_after=exc.retry_after
                    ) from exc
                found = await self._lookup(coid)
                if found is None:
                    continue  # provably absent: sending again cannot duplicate it
                order = {"id": found}
            self.metrics.orders.labels("placed").inc()
            row = await repo_orders.settle(conn, coid, "placed", broker_order_id=int(order["id"]))
            return _outcome(row, duplicate=False)
        self.metrics.orders.labels("failed").inc()
        raise OrderNotSettled(
            f"order {coid} got no answer from Tradier twice and is not in the account's orders; "
            "resubmit the same client_order_id later to settle it"
        )


def _columns(ticket: OrderTicket) -> dict:
    return {
        "symbol": ticket.symbol,
        "side": ticket.side,
        "type": ticket.type,
        "duration": ticket.duration,
        "qty": ticket.quantity,
        "price": ticket.price,
        "stop": ticket.stop,
    }
