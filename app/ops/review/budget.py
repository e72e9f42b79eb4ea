"""Token estimates, costs, the per-run cap and the monthly cap (tracked in the `logs` table).

Token counts are an upper bound, not a tokenizer: OpenAI's tokenizers are byte-level BPE, so a
token is never shorter than one byte of UTF-8 and the byte count bounds the token count from
above. (tiktoken fetches its vocabulary files from the internet at run time; no well-kept package
ships them offline.) English text runs about 4 bytes per token, so the bound over-states a prompt
roughly fourfold; for a cap that errs the right way.
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg

from app.ops.review.prices import Price

LOG_SOURCE = "review.llm"
# Per message: role and delimiter tokens of the chat format; per reply: the assistant priming.
MESSAGE_OVERHEAD_TOKENS = 4
REPLY_PRIMING_TOKENS = 3
TYPICAL_BYTES_PER_TOKEN = 4
MTOK = Decimal(1_000_000)
SPEND_LOCK_ID = 7_305_009  # advisory lock key (app/db/migrate.py uses 7_305_001)


class BudgetRefused(RuntimeError):
    """A call was not made because it could break a cap; the message names the cap variable."""


@dataclass(frozen=True)
class Estimate:
    prompt_tokens_max: int
    prompt_tokens_typical: int
    output_tokens_max: int
    price: Price

    @property
    def worst_case_usd(self) -> Decimal:
        return cost_usd(self.price, self.prompt_tokens_max, self.output_tokens_max)

    def describe(self) -> str:
        return (
            f"at most {self.prompt_tokens_max} prompt tokens (UTF-8 bytes; typically about "
            f"{self.prompt_tokens_typical}) + at most {self.output_tokens_max} output tokens, "
            f"at ${self.price.input_per_mtok}/${self.price.output_per_mtok} per 1M tokens "
            f"[{self.price.source}] = at most ${self.worst_case_usd:.6f}"
        )


def estimate(messages: list[dict[str, str]], max_output_tokens: int, price: Price) -> Estimate:
    size = sum(len(m["content"].encode()) for m in messages)
    overhead = MESSAGE_OVERHEAD_TOKENS * len(messages) + REPLY_PRIMING_TOKENS
    return Estimate(size + overhead, -(-size // TYPICAL_BYTES_PER_TOKEN) + overhead, max_output_tokens, price)


def cost_usd(price: Price, input_tokens: int, output_tokens: int) -> Decimal:
    return (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / MTOK


@dataclass
class RunBudget:
    """The per-run cap: every attempt (a retry included) must fit in what is left of it."""

    cap_usd: Decimal
    spent_usd: Decimal = Decimal(0)

    def check(self, est: Estimate) -> None:
        if self.spent_usd + est.worst_case_usd > self.cap_usd:
            spent = f" (${self.spent_usd:.6f} of it already spent this run)" if self.spent_usd else ""
            raise BudgetRefused(
                f"refused: this call could cost {est.describe()}, which would exceed "
                f"REVIEW_RUN_CAP_USD=${self.cap_usd}{spent}. Raise REVIEW_RUN_CAP_USD, lower "
                "REVIEW_MAX_OUTPUT_TOKENS or choose a cheaper REVIEW_MODEL"
            )


def month_start(now: datetime) -> datetime:
    now = now.astimezone(UTC)
    return datetime(now.year, now.month, 1, tzinfo=UTC)


@asynccontextmanager
async def spending(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """One review spends at a time: two runs started together (cron and a person) must not both
    fit their worst case into the same remaining monthly budget."""
    await conn.execute("select pg_advisory_lock($1)", SPEND_LOCK_ID)
    try:
        yield
    finally:
        await conn.execute("select pg_advisory_unlock($1)", SPEND_LOCK_ID)


async def month_spent(conn: asyncpg.Connection, now: datetime) -> Decimal:
    """This calendar month's (UTC) spend on review calls, from what each call recorded."""
    value = await conn.fetchval(
        "select coalesce(sum((payload->>'cost_usd')::numeric), 0) from logs where source = $1 and ts >= $2",
        LOG_SOURCE,
        month_start(now),
    )
    return Decimal(value)


async def check_month(conn: asyncpg.Connection, est: Estimate, cap_usd: Decimal, now: datetime) -> Decimal:
    spent = await month_spent(conn, now)
    if spent + est.worst_case_usd > cap_usd:
        raise BudgetRefused(
            f"refused: ${spent:.6f} already spent on review calls in {now:%Y-%m} (API-reported usage "
            f"recorded in the logs table) and this call could cost {est.describe()}, which would exceed "
            f"REVIEW_MONTHLY_CAP_USD=${cap_usd}. Raise REVIEW_MONTHLY_CAP_USD or wait for next month"
        )
    return spent


async def record(conn: asyncpg.Connection, level: str, message: str, payload: dict[str, Any]) -> None:
    """One `logs` row per attempted (or refused) call; `cost_usd` is what month_spent sums."""
    await conn.execute(
        "insert into logs (level, source, message, payload) values ($1, $2, $3, $4::jsonb)",
        level,
        LOG_SOURCE,
        message,
        json.dumps(payload, default=_json_default),
    )


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")
