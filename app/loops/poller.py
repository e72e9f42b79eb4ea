"""The alert rule poller (ENABLE_ALERTS_POLLER): every ALERTS_POLL_SECONDS, and at once when the
snapshot loop pokes it, each enabled rule is evaluated against the `features` rows stored since it
last looked (by the snapshot loop or by `data.snapshot`), oldest first. A firing goes to Discord
through the service's notifier and to the live stream, and is recorded in `logs` (source
`alert_rules`, the values that triggered it in the payload) in the same transaction that advances
the rule's state, so a restart never fires it twice.
"""

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from app.alerts.discord import DiscordNotifier
from app.db.repo_logs import LOGS
from app.db.rows import insert_one
from app.loops import cycles, rules
from app.loops.clock import Clock, sleep_for
from app.metrics import Metrics

log = structlog.get_logger(__name__)

LOOP = "alerts"
ROWS_PER_POLL = 500  # per rule: a long outage is caught up over several polls
# A crossing in a row older than this (a backlog after the poller was off) moves the rule's state
# on but is not announced: an alert about an hours-old price would mislead.
STALE_AFTER = timedelta(hours=1)

Publish = Callable[[dict[str, Any]], None]


class AlertPoller:
    def __init__(
        self,
        pool: asyncpg.Pool,
        notifier: DiscordNotifier,
        metrics: Metrics,
        *,
        clock: Clock,
        poll_seconds: float,
        publish: Publish,
    ) -> None:
        self.pool = pool
        self.notifier = notifier
        self.metrics = metrics
        self.clock = clock
        self.poll_seconds = poll_seconds
        self.publish = publish
        self._poked = asyncio.Event()

    def poke(self) -> None:
        """New snapshots are stored: poll now rather than at the end of the period."""
        self._poked.set()

    async def run(self) -> None:
        while True:
            self._poked.clear()  # before the poll: a poke during it asks for another
            try:
                await self.poll_once()
            except Exception as exc:  # the database, most likely: try again at the next poll
                log.error("alert_poll_error", error=repr(exc))
            await self._until_next_poll()

    async def _until_next_poll(self) -> None:
        waits = [
            asyncio.create_task(sleep_for(self.clock, self.poll_seconds)),
            asyncio.create_task(self._poked.wait()),
        ]
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        for task in done:
            task.result()  # a clock that raises ends the loop

    async def poll_once(self) -> int:
        """Evaluate every enabled rule once; returns how many fired."""
        async with cycles.exclusive(self.pool, LOOP) as mine:
            if not mine:  # another process polls
                return 0
            enabled = await self.pool.fetch(
                f"select {rules.COLUMNS} from alert_rules where enabled order by id"
            )
            self.metrics.alert_rules_enabled.set(len(enabled))
            return sum([await self._evaluate(rule) for rule in enabled])

    async def _new_rows(self, rule: asyncpg.Record) -> list[asyncpg.Record]:
        where = "symbol = $1 and ($2::text is null or horizon = $2)"
        if rule["last_feature_id"] is None:  # a new rule: the latest row sets the baseline
            sql = f"select id, ts, payload from features where {where} order by id desc limit 1"
            return await self.pool.fetch(sql, rule["symbol"], rule["horizon"])
        sql = f"select id, ts, payload from features where {where} and id > $3 order by id limit $4"
        return await self.pool.fetch(
            sql, rule["symbol"], rule["horizon"], rule["last_feature_id"], ROWS_PER_POLL
        )

    async def _value(self, rule: asyncpg.Record, row: asyncpg.Record) -> tuple[float | None, dict[str, Any]]:
        """The value the rule compares, and what it was computed from (for the record)."""
        payload = row["payload"]
        if rule["kind"] == "feature_cross":
            return rules.field_value(payload, rule["field"]), {}
        price = rules.field_value(payload, "price")
        if rule["kind"] == "price_cross" or price is None:
            return price, {}
        since = row["ts"] - timedelta(minutes=rule["window_minutes"])
        base = await self.pool.fetchrow(
            "select id, ts, payload->'price' as price from features"
            " where symbol = $1 and ts <= $2 and jsonb_typeof(payload->'price') = 'number'"
            " order by ts desc, id desc limit 1",
            rule["symbol"],
            since,
        )
        if base is None or not isinstance(base["price"], int | float) or not base["price"]:
            return None, {}
        move = round((price / base["price"] - 1) * 100, 4)
        return move, {"price": price, "base_price": base["price"], "base_ts": base["ts"].isoformat()}

    async def _evaluate(self, rule: asyncpg.Record) -> int:
        rows = await self._new_rows(rule)
        if not rows:
            return 0
        state: dict[str, Any] = dict(rule)
        now = self.clock.now()
        firings = []
        for row in rows:
            value, basis = await self._value(rule, row)
            state["last_feature_id"] = row["id"]
            if value is None:
                continue
            verdict = rules.judge(state, value, now)
            if verdict.fire and now - row["ts"] > STALE_AFTER:
                log.info("alert_rule_stale_crossing", rule_id=rule["id"], feature_id=row["id"], value=value)
            elif verdict.fire:
                firings.append(self._firing(rule, row, value, state["last_value"], basis, now))
                state["last_fired_at"], state["fired_count"] = now, state["fired_count"] + 1
            elif verdict.suppressed:
                self.metrics.alert_rules_suppressed.labels(rule["kind"]).inc()
            state["last_met"], state["last_value"] = verdict.met, value
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "update alert_rules set last_feature_id = $2, last_value = $3, last_met = $4,"
                " last_fired_at = $5, fired_count = $6 where id = $1",
                rule["id"],
                state["last_feature_id"],
                state["last_value"],
                state["last_met"],
                state["last_fired_at"],
                state["fired_count"],
            )
            for firing in firings:
                await insert_one(conn, LOGS, firing)
        for firing in firings:  # after the commit: what is announced is recorded
            payload = firing["payload"]
            self.notifier.notify(
                firing["message"],
                key=f"alert-rule:{rule['id']}:{payload['feature_id']}",
                alert=f"rule-{rule['id']}",
            )
            self.publish({"type": "alert", "message": firing["message"], **payload})
            self.metrics.alert_rules_fired.labels(rule["kind"]).inc()
        return len(firings)

    @staticmethod
    def _firing(
        rule: asyncpg.Record,
        row: asyncpg.Record,
        value: float,
        previous: float | None,
        basis: dict,
        now: datetime,
    ) -> dict[str, Any]:
        return {
            "ts": now,
            "level": "warning",
            "source": "alert_rules",
            "message": rules.describe(rule, value),
            "payload": {
                "rule_id": rule["id"],
                "kind": rule["kind"],
                "symbol": rule["symbol"],
                "direction": rule["direction"],
                "level": rule["level"],
                "value": value,
                "previous_value": previous,
                "field": rule["field"],
                "window_minutes": rule["window_minutes"],
                "feature_id": row["id"],
                "feature_ts": row["ts"].isoformat(),
                **basis,
            },
        }
