"""Markdown for the facts (shared by the prompt and the report) and for the whole report."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from app.ops.review.facts import LogFacts, TradeLine, WeeklyFacts
from app.ops.review.model_step import ModelStep
from app.ops.review.settings import ReviewSettings


def num(value: Decimal | float | int) -> str:
    """12.50 -> 12.5, 100.000 -> 100: trailing zeros of stored numerics carry no meaning here."""
    text = f"{value:f}" if isinstance(value, Decimal) else str(value)
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal) -> str:
    return f"{value:,.2f}"


def table(header: tuple[str, ...], rows: Sequence[tuple[object, ...]], empty: str) -> str:
    if not rows:
        return f"_{empty}_"
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _trade_rows(trades: list[TradeLine]) -> list[tuple[object, ...]]:
    return [(f"{t.ts:%a %Y-%m-%d %H:%M}", t.symbol, t.side, num(t.qty), money(t.pnl)) for t in trades]


def weekly_facts_md(f: WeeklyFacts) -> str:
    rate = (
        "n/a (no trade with a realized P&L)"
        if f.win_rate is None
        else f"{f.win_rate:.1%} ({f.wins} wins, {f.losses} losses)"
    )
    trade_header = ("time (UTC)", "symbol", "side", "qty", "P&L")
    parts = [
        "## Facts",
        f"Week {f.period.label}: {f.period.describe()}. "
        "P&L is the realized P&L stored on trades; a trade without one counts in neither wins nor losses.",
        "### Trading",
        table(
            ("measure", "value"),
            [
                ("trades", f.trades),
                ("with realized P&L", f.closed),
                ("realized P&L", money(f.pnl)),
                ("win rate", rate),
            ],
            "",
        )
        if f.trades
        else "_No trades this week._",
    ]
    if f.trades:
        parts += [
            "By symbol:",
            table(("symbol", "trades", "P&L"), [(s, n, money(p)) for s, n, p in f.by_symbol], ""),
            "Biggest winners:",
            table(trade_header, _trade_rows(f.winners), "no winning trade"),
            "Biggest losers:",
            table(trade_header, _trade_rows(f.losers), "no losing trade"),
        ]
    parts += [
        "### Features",
        f"{f.features} feature rows.",
        table(("horizon", "rows", "symbols"), f.features_by_horizon, "no features stored this week"),
        "### Guardrail rejections",
        table(("rule", "orders rejected"), f.rejections, "none"),
        "### Orders sent to the broker",
        table(("status", "orders"), f.orders, "none")
        + (
            "\n\n`unknown`: sent, outcome not yet reconciled with the broker."
            if any(s == "unknown" for s, _ in f.orders)
            else ""
        ),
        "### Providers",
        table(
            ("provider", "logged calls", "failures", "rate-limited (429)"),
            f.providers,
            "no provider calls logged",
        ),
        "### Alerts",
        table(("alert", "outcome", "count"), f.alerts, "none"),
        "### Errors and warnings by source",
        table(("source", "errors", "warnings"), f.problems, "none"),
    ]
    return "\n\n".join(parts)


def log_facts_md(f: LogFacts) -> str:
    rows = [
        (
            g.source,
            g.level,
            g.count,
            f"{g.first_seen:%Y-%m-%d %H:%M:%S}",
            f"{g.last_seen:%Y-%m-%d %H:%M:%S}",
            f"{g.top_message[:120]} ({g.top_message_count} times)",
        )
        for g in f.groups
    ]
    return "\n\n".join(
        [
            "## Facts",
            f"Log rows at level {f.min_level} or above, {f.period.describe()}: "
            f"{f.total_rows} rows in {len(f.groups)} groups.",
            table(
                ("source", "level", "count", "first seen (UTC)", "last seen (UTC)", "most frequent message"),
                rows,
                "no such log rows",
            ),
        ]
    )


def database_label(url: str) -> str:
    """host:port/dbname: where the facts came from, without user or password."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def render(title: str, facts_md: str, step: ModelStep, settings: ReviewSettings, generated: datetime) -> str:
    parts = [
        f"# {title}",
        f"Generated {generated:%Y-%m-%d %H:%M} UTC from {database_label(settings.database_url)}.",
        facts_md,
    ]
    parts += ["## Summary", step.summary if step.summary is not None else f"_Facts only: {step.reason}._"]
    parts += [f"> Note: {note}" for note in step.notes]
    if step.summary is not None:
        parts += ["## Proposed actions", _actions_md(step)]
    if step.attempts:
        parts += ["## Model call", _call_md(step, settings)]
    return "\n\n".join(parts) + "\n"


def _actions_md(step: ModelStep) -> str:
    rows = [(a.setting, a.current or "(empty)", a.proposed, a.reason) for a in step.actions]
    text = table(("setting", "current", "proposed", "why"), rows, "No changes proposed.")
    if step.actions:
        text += (
            "\n\nEach line is a proposal to accept or reject: to accept one, set the value in the "
            "service's environment (the Compose `.env` that Ansible renders) and redeploy."
        )
    if step.dropped:
        text += "\n\nNot shown above (failed the checks):\n" + "\n".join(f"- {d}" for d in step.dropped)
    return text


def _call_md(step: ModelStep, settings: ReviewSettings) -> str:
    rows = [
        (
            a.number,
            a.outcome,
            a.input_tokens if a.input_tokens is not None else "-",
            a.output_tokens if a.output_tokens is not None else "-",
            f"${a.cost_usd:.6f}",
            a.cost_basis,
        )
        for a in step.attempts
    ]
    lines = [
        f"Model `{settings.model}` via the {settings.api.value} API"
        + (f" at {settings.base_url}" if settings.base_url else "")
        + f"; key from {settings.key_variable}.",
        table(("attempt", "outcome", "input tokens", "output tokens", "cost", "cost basis"), rows, ""),
        f"This run: ${step.run_spent_usd:.6f} of REVIEW_RUN_CAP_USD=${settings.run_cap_usd}."
        + (
            f" This month: ${step.month_spent_usd:.6f} of REVIEW_MONTHLY_CAP_USD=${settings.monthly_cap_usd}."
            if step.month_spent_usd is not None
            else ""
        ),
    ]
    if step.estimate:
        lines.append(f"Estimate before sending: {step.estimate.describe()}.")
    return "\n\n".join(lines)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
