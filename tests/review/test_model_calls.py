"""The model step against the local OpenAI-compatible server, through the real SDK and Postgres:
what each failure does to the report, the retry, and the `logs` rows that track spend."""

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg

from app.ops.review.budget import LOG_SOURCE, cost_usd
from app.ops.review.model_step import ModelStep
from app.ops.review.prices import price_for
from app.ops.review.runs import Prepared, execute, prepare_weekly
from app.ops.review.settings import ReviewSettings
from app.ops.review.tunables import current_values
from tests.fakes.openai import FakeOpenAI, Reply, malformed, ok, overlong, rate_limited, server_error, slow
from tests.review.factories import WEEK, seed_week

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
GOOD = json.dumps(
    {
        "summary": "NVDA carried the week; polygon was rate-limited twice.",
        "actions": [{"setting": "POLYGON_API_RATE", "proposed": "4", "reason": "two 429s from polygon"}],
    }
)


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


async def review(
    conn: asyncpg.Connection, settings: ReviewSettings, tmp_path: Path, sleep: Sleeps | None = None
) -> tuple[ModelStep, str, Prepared]:
    current = current_values()
    prepared = await prepare_weekly(conn, WEEK, tmp_path, current)
    step = await execute(
        conn, settings, prepared, current, now=NOW, sleep=Sleeps() if sleep is None else sleep
    )
    return step, prepared.path.read_text(), prepared


async def llm_rows(conn: asyncpg.Connection) -> list[dict]:
    rows = await conn.fetch(
        "select level, message, payload from logs where source = $1 order by id", LOG_SOURCE
    )
    return [{"level": r["level"], "message": r["message"], **json.loads(r["payload"])} for r in rows]


async def test_success_writes_summary_actions_and_records_the_reported_cost(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    await seed_week(conn)
    fake.script(ok(GOOD))
    step, text, prepared = await review(conn, settings_for(), tmp_path)
    assert prepared.path.name == "weekly-2026-W46.md", prepared.path
    assert step.summary and "NVDA carried the week" in text, f"summary missing from the report:\n{text}"
    assert "| POLYGON_API_RATE | 5.0 | 4 | two 429s from polygon |" in text, (
        f"action with current value:\n{text}"
    )
    assert "| realized P&L | 380.50 |" in text, "the facts are in the report verbatim"
    sent = fake.requests[0]
    assert sent.path == "/v1/chat/completions" and sent.body["max_completion_tokens"] == 800, sent.body
    assert "| realized P&L | 380.50 |" in sent.body["messages"][1]["content"], "the model gets the same facts"
    [row] = await llm_rows(conn)
    usage = row["usage"]
    expected = cost_usd(price_for("gpt-4o-mini"), usage["input_tokens"], usage["output_tokens"])
    assert (row["outcome"], row["cost_basis"]) == ("ok", "reported"), row
    assert Decimal(str(row["cost_usd"])) == expected, f"cost from the reported usage: {row}"
    assert not step.failed


async def test_responses_api_is_a_setting(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(ok(GOOD))
    step, _, _ = await review(conn, settings_for(api="responses"), tmp_path)
    assert [r.path for r in fake.requests] == ["/v1/responses"], "REVIEW_API=responses must use /v1/responses"
    assert fake.requests[0].body["max_output_tokens"] == 800, fake.requests[0].body
    assert step.summary == "NVDA carried the week; polygon was rate-limited twice.", step


async def test_proxies_wanting_max_tokens_get_it(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(ok(GOOD))
    await review(conn, settings_for(chat_cap_param="max_tokens"), tmp_path)
    body = fake.requests[0].body
    assert body.get("max_tokens") == 800 and "max_completion_tokens" not in body, body


async def test_429_is_retried_once_after_retry_after(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(rate_limited(retry_after=7), ok(GOOD))
    sleeps = Sleeps()
    step, _, _ = await review(conn, settings_for(), tmp_path, sleeps)
    assert len(fake.requests) == 2 and sleeps == [7.0], f"one retry after Retry-After: {sleeps}"
    assert step.summary is not None and not step.failed, step.reason
    rows = await llm_rows(conn)
    assert (rows[0]["attempt"], rows[0]["outcome"], rows[0]["cost_usd"]) == (1, "rate_limited", 0), rows
    assert rows[1]["outcome"] == "ok", rows


async def test_retry_after_longer_than_allowed_is_not_waited_for(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(rate_limited(retry_after=120))
    step, text, _ = await review(conn, settings_for(), tmp_path)
    assert len(fake.requests) == 1 and step.failed, (
        "a 120 s Retry-After is above REVIEW_RETRY_AFTER_MAX_SECONDS"
    )
    assert "REVIEW_RETRY_AFTER_MAX_SECONDS" in text and "_Facts only:" in text, text


async def test_timeouts_fall_back_to_facts_and_count_the_worst_case(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(slow(3), slow(3))
    step, text, _ = await review(conn, settings_for(timeout_seconds=0.3), tmp_path)
    assert len(fake.requests) == 2, "one try and one retry"
    assert step.failed and "REVIEW_TIMEOUT_SECONDS=0.3" in (step.reason or ""), step.reason
    assert "_Facts only: the model call failed" in text and "## Facts" in text, text
    rows = await llm_rows(conn)
    assert [r["outcome"] for r in rows] == ["timeout", "timeout"], rows
    assert all(r["cost_basis"] == "worst_case" and r["cost_usd"] == r["estimate_usd"] for r in rows), (
        f"a timed-out call may still be billed: it must count its worst case: {rows}"
    )


async def test_a_500_is_retried_and_then_succeeds(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(server_error(), ok(GOOD))
    step, _, _ = await review(conn, settings_for(), tmp_path)
    assert len(fake.requests) == 2 and step.summary is not None, step.reason
    assert [r["outcome"] for r in await llm_rows(conn)] == ["server_error", "ok"]


async def test_two_500s_give_a_facts_only_report_naming_the_error(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(server_error(), server_error())
    step, text, _ = await review(conn, settings_for(), tmp_path)
    assert step.failed and "HTTP 500" in text, text
    assert [r["cost_basis"] for r in await llm_rows(conn)] == ["none", "none"], "error answers are not billed"


async def test_malformed_json_is_retried_then_reported(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(malformed(), malformed())
    step, text, _ = await review(conn, settings_for(), tmp_path)
    assert len(fake.requests) == 2 and step.failed, step
    assert "not valid JSON" in text, f"the report must say what went wrong:\n{text}"


async def test_an_answer_over_the_output_cap_is_cut_and_costed_as_reported(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(overlong(5000))
    settings = settings_for(max_output_tokens=100)
    step, text, _ = await review(conn, settings, tmp_path)
    assert step.summary is not None and len(step.summary) <= 400, "summary cut to the cap (4 bytes per token)"
    assert "ignored the output cap: 5000 output tokens for a cap of 100" in text, text
    [row] = await llm_rows(conn)
    assert row["usage"]["output_tokens"] == 5000 and row["cost_usd"] > row["estimate_usd"], (
        f"the recorded cost must be the reported one, above the estimate: {row}"
    )


async def test_an_answer_cut_at_the_cap_says_so(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(ok("word " * 400))
    step, text, _ = await review(conn, settings_for(max_output_tokens=50), tmp_path)
    assert fake.requests[0].body["max_completion_tokens"] == 50
    assert "reached REVIEW_MAX_OUTPUT_TOKENS=50" in text and "did not answer with the JSON" in text, text
    assert step.actions == [], "no action is taken from an unstructured answer"


async def test_a_call_that_could_exceed_the_run_cap_is_refused_unsent(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    step, text, _ = await review(conn, settings_for(run_cap_usd=Decimal("0.0001")), tmp_path)
    assert fake.requests == [], "a refused call must not reach the endpoint"
    assert step.failed and step.estimate is not None
    reason = step.reason or ""
    assert "REVIEW_RUN_CAP_USD=$0.0001" in reason and f"${step.estimate.worst_case_usd:.6f}" in reason, reason
    assert "output tokens" in reason and "prompt tokens" in reason, f"the estimate's parts: {reason}"
    assert "_Facts only: refused" in text
    assert [r["outcome"] for r in await llm_rows(conn)] == ["refused"]


async def test_the_retry_must_fit_the_run_cap_too(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(slow(3))
    probe = settings_for(timeout_seconds=0.3)
    step, _, _ = await review(conn, probe, tmp_path)  # learn the worst case of one attempt
    one = step.estimate.worst_case_usd
    await conn.execute("delete from logs")
    fake.requests.clear()
    fake.script(slow(3))
    step, _, _ = await review(
        conn, settings_for(timeout_seconds=0.3, run_cap_usd=one * Decimal("1.5")), tmp_path
    )
    assert len(fake.requests) == 1, "the first attempt counts its worst case, so the retry no longer fits"
    assert "and the retry was refused" in (step.reason or ""), step.reason
    assert [r["outcome"] for r in await llm_rows(conn)] == ["timeout", "refused"]


async def test_monthly_cap_stops_calls_after_several_runs(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Input priced at 0 and a fixed reported output make the arithmetic exact: each run's worst
    # case is 800 output tokens, each run is billed 400, and the month allows twice the worst case.
    fake.default = Reply(text=GOOD, output_tokens=400)
    settings = settings_for(
        price_input_per_mtok=0, price_output_per_mtok=10, monthly_cap_usd=Decimal("0.016")
    )
    outcomes = []
    for _ in range(4):
        step, _, _ = await review(conn, settings, tmp_path)
        outcomes.append(step.summary is not None)
    assert outcomes == [True, True, True, False], f"3 runs fit in the month, the 4th does not: {outcomes}"
    assert len(fake.requests) == 3, "the refused run must not call"
    assert (
        "$0.012000 already spent" in (step.reason or "") and "REVIEW_MONTHLY_CAP_USD=$0.016" in step.reason
    ), step.reason
    spent = await conn.fetchval(
        "select sum((payload->>'cost_usd')::numeric) from logs where source = $1", LOG_SOURCE
    )
    assert spent == Decimal("0.012"), f"three runs of 400 output tokens at $10/1M: {spent}"


async def test_two_runs_at_once_cannot_both_take_the_last_of_the_month(
    conn: asyncpg.Connection, db_url: str, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    # Same arithmetic as above: worst case $0.008, billed $0.004; $0.010 fits one run, not two.
    fake.default = Reply(text=GOOD, output_tokens=400, delay_seconds=0.3)
    settings = settings_for(
        price_input_per_mtok=0, price_output_per_mtok=10, monthly_cap_usd=Decimal("0.010")
    )
    other = await asyncpg.connect(db_url)
    try:
        results = await asyncio.gather(
            review(conn, settings, tmp_path / "a"), review(other, settings, tmp_path / "b")
        )
    finally:
        await other.close()
    assert sorted(step.summary is not None for step, _, _ in results) == [False, True], (
        "the second run must see the first one's spend"
    )
    assert len(fake.requests) == 1, f"only one call may be made: {len(fake.requests)}"


async def test_a_refused_key_is_not_retried_and_names_the_variable(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    step, _, _ = await review(conn, settings_for(openai_api_key="sk-wrong-key"), tmp_path)
    assert len(fake.requests) == 1, "a 401 is a setting to fix, not a reason to retry"
    assert "HTTP 401" in (step.reason or "") and "OPENAI_API_KEY" in step.reason, step.reason


async def test_a_proxy_key_goes_to_the_proxy(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    fake.script(ok(GOOD))
    settings = settings_for(openai_api_key="sk-not-for-the-proxy", chatdata_api_key=fake.api_key)
    step, text, _ = await review(conn, settings, tmp_path)
    assert fake.requests[0].headers["authorization"] == f"Bearer {fake.api_key}", "CHATDATA_API_KEY is sent"
    assert step.summary is not None and "key from CHATDATA_API_KEY" in text, text


async def test_proposals_outside_the_rules_are_listed_not_applied(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    answer = {
        "summary": "ok",
        "actions": [
            {"setting": "TRADING_ENABLED", "proposed": "true", "reason": "more trades"},
            {"setting": "MAX_ORDER_QTY", "proposed": "-5", "reason": "smaller"},
            {"setting": "MAX_ORDER_QTY", "proposed": "50", "reason": "smaller"},
        ],
    }
    fake.script(ok(json.dumps(answer)))
    step, text, _ = await review(conn, settings_for(), tmp_path)
    assert [(a.setting, a.current, a.proposed) for a in step.actions] == [("MAX_ORDER_QTY", "100", "50")], (
        step
    )
    assert "- TRADING_ENABLED: not a setting the review may change" in text, text
    assert "- MAX_ORDER_QTY=-5: Input should be greater than 0" in text, text


async def test_without_a_key_the_report_is_facts_only_and_says_why(
    conn: asyncpg.Connection, settings_for, fake: FakeOpenAI, tmp_path: Path
) -> None:
    await seed_week(conn)
    step, text, _ = await review(conn, settings_for(openai_api_key=None), tmp_path)
    assert fake.requests == [] and not step.failed, "no key: no call, and not a failure"
    assert "_Facts only: no model key: set OPENAI_API_KEY" in text, text
    assert "| realized P&L | 380.50 |" in text and "## Model call" not in text, text


async def test_prepared_messages_hold_current_settings(conn: asyncpg.Connection, tmp_path: Path) -> None:
    prepared: Prepared = await prepare_weekly(conn, WEEK, tmp_path, {"MAX_ORDER_QTY": "7"})
    assert "| MAX_ORDER_QTY | 7 |" in prepared.messages[1]["content"], prepared.messages[1]["content"]
