"""The assistant operations behind `POST /api/v1/assistant/exec`, free of HTTP: each returns the
op's result or raises a domain error the route turns into an answer (app/api/routes/assistant.py).

Every order outcome is also journaled as a `logs` row (source `orders`) for the weekly review.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.core.config import Settings
from app.db.repo_features import FEATURES
from app.db.rows import insert_one
from app.metrics import Metrics
from app.providers import snapshot
from app.providers.registry import Providers
from app.providers.tradier import OrderTicket, TradierClient
from app.trading import guardrails
from app.trading.orders import OrderDesk, OrderNotSettled


class NotConfigured(Exception):
    """The op needs a setting that is not set; the message is the variable's name."""


class OrderRejectedByBroker(Exception):
    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__(f"Tradier rejected order {result['client_order_id']}")
        self.result = result


def tradier_of(providers: Providers) -> TradierClient:
    if providers.tradier is None:
        raise NotConfigured("TRADIER_ACCESS_TOKEN (or TRADIER_API_KEY)")
    return providers.tradier


async def data_snapshot(
    providers: Providers, pool: asyncpg.Pool, metrics: Metrics, symbols: list[str], horizon: snapshot.Horizon
) -> dict[str, Any]:
    if providers.polygon is None:
        raise NotConfigured("POLYGON_API_KEY")
    quotes, payloads = await snapshot.build(providers.polygon, list(dict.fromkeys(symbols)), horizon)
    rows = [
        {"ts": datetime.now(UTC), "symbol": p["symbol"], "horizon": horizon.value, "payload": p}
        for p in payloads
    ]
    async with pool.acquire() as conn, conn.transaction():
        ids = [(await insert_one(conn, FEATURES, row))["id"] for row in rows]
    metrics.rows_written.labels("features").inc(len(ids))
    return {
        "source": quotes.source,
        "note": quotes.note,
        "missing": quotes.missing,
        "feature_ids": ids,
        "features": payloads,
    }


async def orders_preview(providers: Providers, settings: Settings, ticket: OrderTicket) -> dict[str, Any]:
    tradier = tradier_of(providers)
    notional = await guardrails.enforce(ticket, settings, tradier, placing=False)
    preview = await tradier.preview(ticket)
    return {"preview": preview, "notional": str(notional), "trading_enabled": settings.trading_enabled}


async def orders_place(
    providers: Providers,
    settings: Settings,
    pool: asyncpg.Pool,
    metrics: Metrics,
    ticket: OrderTicket,
    client_order_id: str | None,
) -> dict[str, Any]:
    tradier = tradier_of(providers)
    coid = client_order_id or uuid.uuid4().hex
    about = {
        "client_order_id": coid,
        "symbol": ticket.symbol,
        "side": ticket.side,
        "qty": str(ticket.quantity),
    }
    journal = providers.journal
    try:
        notional = await guardrails.enforce(ticket, settings, tradier, placing=True)
    except guardrails.GuardrailRejected as exc:
        metrics.orders.labels("rejected").inc()
        metrics.orders_rejected.labels(exc.rule).inc()
        journal.order("warning", exc.message, outcome="rejected", rule=exc.rule, **about)
        raise
    try:
        outcome = await OrderDesk(pool, tradier, metrics).place(ticket, coid)
    except OrderNotSettled as exc:
        journal.order("error", str(exc), outcome="failed", **about)
        raise
    result = {**outcome.as_dict(), "notional": str(notional)}
    if outcome.status == "rejected":
        if not outcome.duplicate:
            journal.order("error", "; ".join(outcome.messages), outcome="failed", **about)
        raise OrderRejectedByBroker(result)
    kind = "duplicate" if outcome.duplicate else "placed"
    journal.order(
        "info", f"order {coid} {kind}", outcome=kind, broker_order_id=outcome.broker_order_id, **about
    )
    return result
