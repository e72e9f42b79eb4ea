"""The model half of a review: budget checks, at most one retry, a `logs` row per attempt, and the
answer turned into a summary plus checked actions. Never raises for a model problem: the review
always gets a report, and `ModelStep.reason` says why it has no summary."""

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import asyncpg

from app.ops.review.budget import TYPICAL_BYTES_PER_TOKEN as BYTES_PER_TOKEN
from app.ops.review.budget import (
    BudgetRefused,
    Estimate,
    RunBudget,
    check_month,
    cost_usd,
    estimate,
    record,
    spending,
)
from app.ops.review.llm import CallFailed, Completion, ModelClient, Usage
from app.ops.review.prices import UnknownModelPrice, price_for
from app.ops.review.prompt import parse_reply
from app.ops.review.settings import ReviewSettings
from app.ops.review.tunables import Action, check_actions

NO_KEY = (
    "no model key: set OPENAI_API_KEY (or CHATDATA_API_KEY together with OPENAI_BASE_URL) "
    "to add a model summary"
)


@dataclass(frozen=True)
class AttemptRecord:
    number: int
    outcome: str
    input_tokens: int | None
    output_tokens: int | None
    cost_usd: Decimal
    cost_basis: str  # reported | worst_case (no usage came back but it may be billed) | none
    detail: str = ""


@dataclass
class ModelStep:
    summary: str | None = None
    actions: list[Action] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reason: str | None = None  # why there is no summary
    failed: bool = False  # a model was configured but gave no summary (the command exits 1)
    attempts: list[AttemptRecord] = field(default_factory=list)
    estimate: Estimate | None = None
    run_spent_usd: Decimal = Decimal(0)
    month_spent_usd: Decimal | None = None


def plan(settings: ReviewSettings, msgs: list[dict[str, str]]) -> Estimate:
    """The cost estimate for these messages (raises UnknownModelPrice for an unpriced model)."""
    price = price_for(settings.model, settings.price_input_per_mtok, settings.price_output_per_mtok)
    return estimate(msgs, settings.max_output_tokens, price)


async def run_model(
    conn: asyncpg.Connection,
    settings: ReviewSettings,
    review: str,
    msgs: list[dict[str, str]],
    current: dict[str, str],
    *,
    now: datetime,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ModelStep:
    if not settings.api_key:
        return ModelStep(reason=NO_KEY)
    try:
        est = plan(settings, msgs)
    except UnknownModelPrice as exc:
        return ModelStep(reason=str(exc), failed=True)
    step = ModelStep(estimate=est)
    client = ModelClient(settings)
    try:
        async with spending(conn):
            await _Call(conn, settings, review, est, step).attempts(client, msgs, current, now, sleep)
    finally:
        await client.aclose()
    return step


@dataclass
class _Call:
    """Book-keeping for one review's attempts: the run budget, the log rows and the step."""

    conn: asyncpg.Connection
    settings: ReviewSettings
    review: str
    est: Estimate
    step: ModelStep
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.budget = RunBudget(self.settings.run_cap_usd)

    async def attempts(
        self,
        client: ModelClient,
        msgs: list[dict[str, str]],
        current: dict[str, str],
        now: datetime,
        sleep: Callable[[float], Awaitable[None]],
    ) -> None:
        """The first try and at most REVIEW_MAX_RETRIES more, each checked against both caps."""
        settings, step = self.settings, self.step
        for number in range(1, settings.max_retries + 2):
            try:
                await self.check_budgets(now)
                completion = await client.complete(
                    msgs[0]["content"], msgs[1]["content"], self.est.output_tokens_max
                )
            except BudgetRefused as exc:
                return await self.refused(number, str(exc))
            except CallFailed as exc:
                await self.failed(number, exc)
                wait = exc.retry_after if exc.retry_after is not None else settings.retry_delay_seconds
                if not exc.retryable or number > settings.max_retries:
                    break
                if wait > settings.retry_after_max_seconds:
                    step.notes.append(
                        f"the endpoint asked to wait {wait:g} s, longer than "
                        f"REVIEW_RETRY_AFTER_MAX_SECONDS={settings.retry_after_max_seconds:g}: not retried"
                    )
                    break
                await sleep(wait)
            else:
                return await self.succeeded(number, completion, current)
        tried = "; ".join(f"attempt {a.number}: {a.detail}" for a in step.attempts)
        step.reason, step.failed = f"the model call failed ({tried})", True

    async def check_budgets(self, now: datetime) -> None:
        self.budget.check(self.est)
        self.step.month_spent_usd = await check_month(self.conn, self.est, self.settings.monthly_cap_usd, now)

    async def refused(self, number: int, why: str) -> None:
        earlier = "; ".join(f"attempt {a.number}: {a.detail}" for a in self.step.attempts)
        self.step.reason = f"the model call failed ({earlier}) and the retry was {why}" if earlier else why
        self.step.failed = True
        await self._record("warning", number, "refused", None, Decimal(0), "none", why)

    async def failed(self, number: int, exc: CallFailed) -> None:
        cost, basis = (self.est.worst_case_usd, "worst_case") if exc.maybe_billed else (Decimal(0), "none")
        await self._record("error", number, exc.outcome, None, cost, basis, str(exc))

    async def succeeded(self, number: int, completion: Completion, current: dict[str, str]) -> None:
        usage, cap, step = completion.usage, self.est.output_tokens_max, self.step
        if usage:
            cost, basis = cost_usd(self.est.price, usage.input_tokens, usage.output_tokens), "reported"
        else:
            cost, basis = self.est.worst_case_usd, "worst_case"
            step.notes.append(
                "the endpoint reported no token usage: the worst-case estimate was recorded as the cost"
            )
        await self._record("info", number, "ok", usage, cost, basis, f"model {completion.model}")
        reply = parse_reply(completion.text)
        step.summary = reply.summary
        if not reply.structured:
            step.notes.append(
                "the model did not answer with the JSON object asked for: its text is shown as is "
                "and no action was taken from it"
            )
        if completion.cut_at_cap:
            step.notes.append(
                f"the answer reached REVIEW_MAX_OUTPUT_TOKENS={cap} and was cut there; raise it if the "
                "summary looks unfinished"
            )
        if usage and usage.output_tokens > cap:
            step.summary = reply.summary[: cap * BYTES_PER_TOKEN]
            step.notes.append(
                f"the endpoint ignored the output cap: {usage.output_tokens} output tokens for a cap of "
                f"{cap}; the summary was cut to the cap and the cost (${cost:.6f}) recorded from the "
                "reported usage"
            )
        if self.budget.spent_usd > self.budget.cap_usd:
            step.notes.append(
                f"this run cost ${self.budget.spent_usd:.6f}, above "
                f"REVIEW_RUN_CAP_USD=${self.budget.cap_usd}, "
                "because the endpoint used more tokens than requested"
            )
        step.actions, step.dropped = check_actions(reply.proposals, current)

    async def _record(
        self,
        level: str,
        number: int,
        outcome: str,
        usage: Usage | None,
        cost: Decimal,
        basis: str,
        detail: str,
    ) -> None:
        in_tokens, out_tokens = (usage.input_tokens, usage.output_tokens) if usage else (None, None)
        self.budget.spent_usd += cost
        self.step.run_spent_usd = self.budget.spent_usd
        if self.step.month_spent_usd is not None:
            self.step.month_spent_usd += cost
        self.step.attempts.append(AttemptRecord(number, outcome, in_tokens, out_tokens, cost, basis, detail))
        await record(
            self.conn,
            level,
            f"{self.review} review model call: {outcome}",
            {
                "review": self.review,
                "run_id": self.run_id,
                "attempt": number,
                "outcome": outcome,
                "model": self.settings.model,
                "api": self.settings.api.value,
                "base_url": self.settings.base_url,
                "usage": None if usage is None else {"input_tokens": in_tokens, "output_tokens": out_tokens},
                "cost_usd": cost,
                "cost_basis": basis,
                "estimate_usd": self.est.worst_case_usd,
                "prompt_tokens_max": self.est.prompt_tokens_max,
                "max_output_tokens": self.est.output_tokens_max,
                "detail": detail,
            },
        )
