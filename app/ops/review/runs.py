"""The two reviews end to end: facts, prompt, optional model step, report file (or a dry run)."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from app.ops.review import prompt
from app.ops.review.budget import month_spent
from app.ops.review.facts import log_facts, weekly_facts
from app.ops.review.model_step import ModelStep, plan, run_model
from app.ops.review.periods import Period
from app.ops.review.prices import UnknownModelPrice
from app.ops.review.report import log_facts_md, render, weekly_facts_md, write
from app.ops.review.settings import ReviewSettings


@dataclass(frozen=True)
class Prepared:
    review: str  # weekly | logs
    title: str
    facts_md: str
    messages: list[dict[str, str]]
    path: Path


async def prepare_weekly(
    conn: asyncpg.Connection, period: Period, reports_dir: Path, current: dict[str, str]
) -> Prepared:
    facts_md = weekly_facts_md(await weekly_facts(conn, period))
    return Prepared(
        "weekly",
        f"Weekly review {period.label}",
        facts_md,
        prompt.messages(prompt.WEEKLY_SYSTEM, facts_md, current),
        reports_dir / f"weekly-{period.label}.md",
    )


async def prepare_logs(
    conn: asyncpg.Connection, period: Period, min_level: str, reports_dir: Path, current: dict[str, str]
) -> Prepared:
    facts_md = log_facts_md(await log_facts(conn, period, min_level))
    return Prepared(
        "logs",
        f"Log summary, {period.describe()}",
        facts_md,
        prompt.messages(prompt.LOGS_SYSTEM, facts_md, current),
        reports_dir / f"logs-{period.end:%Y%m%dT%H%MZ}.md",
    )


async def dry_run(
    conn: asyncpg.Connection, settings: ReviewSettings, prepared: Prepared, now: datetime
) -> str:
    """The prompt and what sending it could cost; calls nothing and writes nothing."""
    shown = "\n\n".join(f"----- {m['role']} -----\n{m['content']}" for m in prepared.messages)
    try:
        est = plan(settings, prepared.messages)
    except UnknownModelPrice as exc:
        return f"{shown}\n\n----- estimate -----\n{exc}"
    spent = await month_spent(conn, now)
    verdict = "is within both caps"
    if est.worst_case_usd > settings.run_cap_usd:
        verdict = f"would be REFUSED: above REVIEW_RUN_CAP_USD=${settings.run_cap_usd}"
    elif spent + est.worst_case_usd > settings.monthly_cap_usd:
        verdict = (
            f"would be REFUSED: ${spent:.6f} spent this month, "
            f"REVIEW_MONTHLY_CAP_USD=${settings.monthly_cap_usd}"
        )
    return (
        f"{shown}\n\n----- estimate -----\n"
        f"model {settings.model} via the {settings.api.value} API: {est.describe()}.\n"
        f"run cap REVIEW_RUN_CAP_USD=${settings.run_cap_usd}; this month ${spent:.6f} of "
        f"REVIEW_MONTHLY_CAP_USD=${settings.monthly_cap_usd}; the call {verdict}.\n"
        "Dry run: nothing was sent and no report was written."
    )


async def execute(
    conn: asyncpg.Connection,
    settings: ReviewSettings,
    prepared: Prepared,
    current: dict[str, str],
    *,
    now: datetime,
    use_model: bool = True,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> ModelStep:
    """Write the report (with a model summary when possible) and return the model step."""
    if use_model:
        step = await run_model(
            conn, settings, prepared.review, prepared.messages, current, now=now, sleep=sleep
        )
    else:
        step = ModelStep(reason="--no-model was given")
    write(prepared.path, render(prepared.title, prepared.facts_md, step, settings, now))
    return step
