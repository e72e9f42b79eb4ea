"""The no-duplicate order protocol on a real Postgres against the Tradier fake, which counts the
order POSTs that reached the "broker" per tag: every scenario must end with exactly one."""

import asyncio
from decimal import Decimal

import asyncpg
import pytest

from app.db import repo_orders
from app.metrics import Metrics
from app.providers.tradier import OrderTicket
from app.trading import orders as orders_module
from app.trading.orders import LOCK_NAMESPACE, OrderConflict, OrderDesk, OrderNotSettled
from tests.fakes.faults import Fault
from tests.providers.helpers import sample, tradier_for

BUY = OrderTicket("SPY", "buy", Decimal(3), "limit", price=Decimal("490.50"))
ORDERS = "/v1/accounts/VA000001/orders"


def desk(pool: asyncpg.Pool, url: str, metrics: Metrics, **policy: object) -> OrderDesk:
    return OrderDesk(pool, tradier_for(url, metrics, **policy), metrics)


async def stored(pool: asyncpg.Pool, coid: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await repo_orders.get(conn, coid)
    assert row is not None, f"no orders row for {coid}"
    return row


async def test_order_is_placed_and_recorded(migrated_pool, tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    outcome = await desk(migrated_pool, url, metrics).place(BUY, "ord-1")
    row = await stored(migrated_pool, "ord-1")
    assert outcome.status == "placed" and not outcome.duplicate
    assert (
        fake.placed("ord-1") == 1
        and row["broker_order_id"] == fake.orders[0]["id"] == outcome.broker_order_id
    )
    assert row["status"] == "placed" and row["sends"] == 1
    assert sample(metrics, "trader_orders_total", outcome="placed") == 1


async def test_resubmission_answers_from_the_record(migrated_pool, tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    orders = desk(migrated_pool, url, metrics)
    first = await orders.place(BUY, "ord-2")
    again = await orders.place(BUY, "ord-2")
    assert again.duplicate and again.broker_order_id == first.broker_order_id
    assert fake.placed("ord-2") == 1, "a resubmitted client order id reached the broker twice"
    assert sample(metrics, "trader_orders_total", outcome="duplicate") == 1


async def test_concurrent_submissions_reach_the_broker_once(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    orders = desk(migrated_pool, url, metrics)
    outcomes = await asyncio.gather(*(orders.place(BUY, "ord-3") for _ in range(5)))
    assert fake.placed("ord-3") == 1, f"5 concurrent submissions made {fake.placed('ord-3')} broker orders"
    assert sorted(o.duplicate for o in outcomes) == [False, True, True, True, True]
    assert len({o.broker_order_id for o in outcomes}) == 1


async def test_timeout_after_the_broker_accepted_is_reconciled(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(status=0, delay=2.0, after=True))  # order taken, answer too slow
    outcome = await desk(migrated_pool, url, metrics, timeout_seconds=0.5).place(BUY, "ord-4")
    assert outcome.status == "placed" and outcome.broker_order_id == fake.orders[0]["id"]
    assert fake.placed("ord-4") == 1, "the order was resent although the broker had it"


async def test_5xx_after_the_broker_accepted_is_reconciled(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(502, {"fault": "bad gateway"}, after=True))
    outcome = await desk(migrated_pool, url, metrics).place(BUY, "ord-5")
    assert outcome.status == "placed" and fake.placed("ord-5") == 1


async def test_5xx_before_the_broker_saw_it_is_resent_once(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(503, {"fault": "unavailable"}, method="POST", path_contains=ORDERS))
    outcome = await desk(migrated_pool, url, metrics).place(BUY, "ord-6")
    row = await stored(migrated_pool, "ord-6")
    assert outcome.status == "placed" and fake.placed("ord-6") == 1
    assert row["sends"] == 2, "expected the lookup to prove the order absent, then exactly one resend"


async def test_unsettled_order_is_settled_by_a_later_resubmission(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(status=0, delay=2.0, after=True))  # accepted, answer lost
    fake.faults.add(
        Fault(500, {"fault": "down"}, method="GET", path_contains=ORDERS), times=3
    )  # lookup fails
    orders = desk(migrated_pool, url, metrics, timeout_seconds=0.5)
    with pytest.raises(OrderNotSettled, match="resubmit the same client_order_id"):
        await orders.place(BUY, "ord-7")
    assert (await stored(migrated_pool, "ord-7"))["status"] == "unknown"
    again = await orders.place(BUY, "ord-7")
    assert again.status == "placed" and again.duplicate
    assert fake.placed("ord-7") == 1, "after a timeout the resubmission sent the order a second time"


async def test_same_id_for_another_order_is_refused(migrated_pool, tradier_fake, metrics: Metrics) -> None:
    fake, url = tradier_fake
    orders = desk(migrated_pool, url, metrics)
    await orders.place(BUY, "ord-8")
    with pytest.raises(OrderConflict, match="ord-8"):
        await orders.place(OrderTicket("SPY", "buy", Decimal(4), "limit", price=Decimal("490.50")), "ord-8")
    assert fake.placed("ord-8") == 1


async def test_broker_rejection_is_stored_and_not_resent(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.buying_power = Decimal(10)
    orders = desk(migrated_pool, url, metrics)
    first = await orders.place(BUY, "ord-9")
    again = await orders.place(BUY, "ord-9")
    assert first.status == "rejected" and "DayTradingBuyingPowerExceeded" in first.messages[0]
    assert again.duplicate and again.status == "rejected"
    assert fake.placed("ord-9") == 1
    assert sample(metrics, "trader_orders_total", outcome="failed") == 1


async def test_broker_unreachable_leaves_it_pending_then_sends(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    down = desk(migrated_pool, "http://127.0.0.1:9", metrics, max_retries=0)
    with pytest.raises(OrderNotSettled, match="not sent"):
        await down.place(BUY, "ord-10")
    assert (await stored(migrated_pool, "ord-10"))["status"] == "pending"
    outcome = await desk(migrated_pool, url, metrics).place(BUY, "ord-10")
    assert outcome.status == "placed" and fake.placed("ord-10") == 1


async def test_submission_while_another_holds_the_id_answers_in_progress(
    migrated_pool, tradier_fake, metrics: Metrics, monkeypatch
) -> None:
    fake, url = tradier_fake
    monkeypatch.setattr(orders_module, "LOCK_WAIT_SECONDS", 0.2)
    async with migrated_pool.acquire() as holder:  # a submission stuck at a slow broker
        await holder.execute("select pg_advisory_lock(hashtextextended($1, $2))", "ord-11", LOCK_NAMESPACE)
        with pytest.raises(OrderNotSettled, match="in progress"):
            await desk(migrated_pool, url, metrics).place(BUY, "ord-11")
        await holder.execute("select pg_advisory_unlock_all()")
    assert fake.placed("ord-11") == 0


async def test_garbled_success_reply_is_reconciled_not_resent(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.faults.add(Fault(200, None, after=True))  # accepted, but the 200 carries no JSON
    outcome = await desk(migrated_pool, url, metrics).place(BUY, "ord-12")
    assert outcome.status == "placed" and outcome.broker_order_id == fake.orders[0]["id"]
    assert fake.placed("ord-12") == 1, (
        "a 200 Tradier answered may have placed the order: never resend it blindly"
    )


async def test_old_unsettled_order_is_never_resent_automatically(
    migrated_pool, tradier_fake, metrics: Metrics
) -> None:
    fake, url = tradier_fake
    fake.faults.add(
        Fault(502, {"fault": "bad gateway"}, method="POST", path_contains=ORDERS)
    )  # never arrived
    fake.faults.add(
        Fault(500, {"fault": "down"}, method="GET", path_contains=ORDERS), times=3
    )  # lookup fails
    orders = desk(migrated_pool, url, metrics)
    with pytest.raises(OrderNotSettled):
        await orders.place(BUY, "ord-13")
    async with migrated_pool.acquire() as conn:
        await conn.execute(
            "update orders set updated_at = now() - interval '7 hours' where client_order_id = 'ord-13'"
        )
    with pytest.raises(OrderNotSettled, match="check it in Tradier"):
        await orders.place(BUY, "ord-13")
    assert fake.placed("ord-13") == 0, "an old unknown order was resent on the strength of today's order list"
