"""`trader review` as a person runs it: options, exit codes, files written, nothing sent on a dry run.

The commands call asyncio.run themselves, so they run in a worker thread off the test's loop."""

import asyncio
import subprocess
import sys
from pathlib import Path

import asyncpg
from typer.testing import CliRunner, Result

from app.cli import cli
from tests.fakes.openai import FakeOpenAI, ok
from tests.review.factories import WEEK, add_log, seed_week

ROOT = Path(__file__).resolve().parents[2]


def reports(directory: Path) -> list[Path]:
    return sorted(directory.iterdir())


async def trader(*args: str, env: dict[str, str]) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, cli, ["review", *args], env=env)


async def test_dry_run_prints_prompt_and_estimate_and_sends_nothing(
    conn: asyncpg.Connection, db_url: str, fake: FakeOpenAI, fake_url: str, tmp_path: Path
) -> None:
    await seed_week(conn)
    env = {"DATABASE_URL": db_url, "OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake_url}
    result = await trader(
        "weekly", "--week", WEEK.label, "--reports-dir", str(tmp_path), "--dry-run", env=env
    )
    assert result.exit_code == 0, result.output
    assert "----- system -----" in result.output and "| realized P&L | 380.50 |" in result.output, (
        result.output
    )
    assert "----- estimate -----" in result.output and "at most $" in result.output, result.output
    assert "REVIEW_RUN_CAP_USD=$0.05" in result.output and "is within both caps" in result.output, (
        result.output
    )
    assert fake.requests == [], "a dry run must not call the model"
    assert reports(tmp_path) == [], "a dry run must not write a report"


async def test_dry_run_says_when_the_call_would_be_refused(db_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": db_url, "REVIEW_RUN_CAP_USD": "0.00001"}
    result = await trader(
        "weekly", "--week", WEEK.label, "--reports-dir", str(tmp_path), "--dry-run", env=env
    )
    assert result.exit_code == 0 and "would be REFUSED: above REVIEW_RUN_CAP_USD=$0.00001" in result.output, (
        result.output
    )


async def test_weekly_without_a_key_writes_the_facts_and_exits_0(
    conn: asyncpg.Connection, db_url: str, tmp_path: Path
) -> None:
    await seed_week(conn)
    env = {"DATABASE_URL": db_url}
    result = await trader("weekly", "--week", WEEK.label, "--reports-dir", str(tmp_path), env=env)
    report = tmp_path / "weekly-2026-W46.md"
    assert result.exit_code == 0, result.output
    assert f"wrote {report}" in result.output and "facts only: no model key" in result.output, result.output
    assert "| realized P&L | 380.50 |" in report.read_text()


async def test_weekly_exits_1_when_the_model_call_fails(
    db_url: str, fake: FakeOpenAI, fake_url: str, tmp_path: Path
) -> None:
    env = {"DATABASE_URL": db_url, "OPENAI_API_KEY": "sk-wrong", "OPENAI_BASE_URL": fake_url}
    result = await trader("weekly", "--week", WEEK.label, "--reports-dir", str(tmp_path), env=env)
    assert result.exit_code == 1, (
        f"a configured model that gave no summary must fail the command: {result.output}"
    )
    assert (tmp_path / "weekly-2026-W46.md").exists(), "the facts-only report is still written"


async def test_logs_review_groups_errors_and_asks_the_model(
    conn: asyncpg.Connection, db_url: str, fake: FakeOpenAI, fake_url: str, tmp_path: Path
) -> None:
    await add_log(
        conn, await conn.fetchval("select now() - interval '1 hour'"), "error", "polygon", "HTTP 503"
    )
    await add_log(
        conn, await conn.fetchval("select now() - interval '2 days'"), "error", "polygon", "too old"
    )
    fake.script(ok('{"summary": "Polygon answered 503 once.", "actions": []}'))
    env = {"DATABASE_URL": db_url, "OPENAI_API_KEY": fake.api_key, "OPENAI_BASE_URL": fake_url}
    result = await trader("logs", "--since", "24h", "--reports-dir", str(tmp_path), env=env)
    assert result.exit_code == 0, result.output
    [report] = reports(tmp_path)
    text = report.read_text()
    assert "| polygon | error | 1 |" in text and "too old" not in text, text
    assert "Polygon answered 503 once." in text and "No changes proposed." in text, text
    assert "| polygon | error | 1 |" in fake.requests[0].body["messages"][1]["content"]


async def test_bad_options_and_settings_name_what_to_fix(db_url: str, tmp_path: Path) -> None:
    week = await trader("weekly", "--week", "2026-47", env={"DATABASE_URL": db_url})
    assert week.exit_code == 2 and "--week must look like 2026-W47" in week.output, week.output
    since = await trader("logs", "--since", "yesterday", env={"DATABASE_URL": db_url})
    assert since.exit_code == 2 and "--since must be a number and a unit" in since.output, since.output
    level = await trader("logs", "--min-level", "fatal", env={"DATABASE_URL": db_url})
    assert level.exit_code == 2 and "--min-level must be one of debug, info" in level.output, level.output
    env = {"DATABASE_URL": db_url, "REVIEW_API": "completions"}
    api = await trader("weekly", env=env)
    assert api.exit_code == 2 and "REVIEW_API" in api.output and "'chat'" in api.output, api.output
    proxy = await trader("weekly", env={"DATABASE_URL": db_url, "CHATDATA_API_KEY": "k"})
    assert proxy.exit_code == 2 and "OPENAI_BASE_URL" in proxy.output, proxy.output


async def test_an_unreachable_database_is_named(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://trader@127.0.0.1:1/nowhere"}
    result = await trader("weekly", "--reports-dir", str(tmp_path), env=env)
    assert (
        result.exit_code == 1 and "127.0.0.1:1/nowhere" in result.output and "DATABASE_URL" in result.output
    ), result.output


async def test_the_script_runs_the_same_command(db_url: str, tmp_path: Path) -> None:
    proc = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            str(ROOT / "scripts/weekly_review.py"),
            "--week",
            WEEK.label,
            "--reports-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "_No trades this week._" in (tmp_path / "weekly-2026-W46.md").read_text()
